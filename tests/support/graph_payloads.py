"""What ``POST /{phone_number_id}/messages`` accepts, by the limits Meta documents.

`check_message` reads a payload as the Cloud API does and raises `Refusal`
with the envelope Meta answers: code 100 for a missing, misspelt or
malformed parameter (``(#100) The parameter to is required.``, ``(#100)
Invalid parameter`` with the reason in ``details``), code 131009 (``Parameter
value is not valid``) for a value outside the limits of interactive messages,
and for a recipient that is no phone number.

The codes, titles and limits are Meta's (its Cloud API reference and the
examples of its OpenAPI description; its ``InteractiveMessage`` schema
cannot be satisfied by any payload, so the examples are what counts). The
``details`` texts follow Meta's wording where it is on record (``Button title
length invalid. Min length: 1, Max length: 20``, ``Total row count exceed max
allowed count: 10``) and its style elsewhere; tests should match on codes.

Only the message types Kurir sends are modelled. Other types Meta has
(location, contacts, sticker, reaction; flows and catalogue messages) are
refused with details saying so, so that a test can never pass on a payload
the stand-in did not check.
"""

import re
from typing import Any, NoReturn

MESSAGE_TYPES = (
    "audio",
    "contacts",
    "document",
    "image",
    "interactive",
    "location",
    "reaction",
    "sticker",
    "template",
    "text",
    "video",
)
INTERACTIVE_TYPES = (
    "button",
    "call_permission_request",
    "catalog_message",
    "cta_url",
    "flow",
    "list",
    "location_request_message",
    "product",
    "product_list",
)
MEDIA_KEYS = {
    "audio": {"id", "link"},
    "document": {"id", "link", "caption", "filename"},
    "image": {"id", "link", "caption"},
    "video": {"id", "link", "caption"},
}
TOP_LEVEL_KEYS = {
    "messaging_product",
    "recipient_type",
    "to",
    "type",
    "context",
    "biz_opaque_callback_data",
}


class Refusal(Exception):
    """A payload Meta refuses: the error code, the envelope's message, and its details."""

    def __init__(self, code: int, message: str, details: str | None = None) -> None:
        super().__init__(message if details is None else f"{message}: {details}")
        self.code = code
        self.message = message
        self.details = details


def _required(param: str) -> NoReturn:
    raise Refusal(100, f"(#100) The parameter {param} is required.")


def _invalid(details: str) -> NoReturn:
    raise Refusal(100, "(#100) Invalid parameter", details)


def _not_valid(details: str) -> NoReturn:
    raise Refusal(131009, "(#131009) Parameter value is not valid", details)


def _one_of(param: str, choices: tuple[str, ...], got: object) -> NoReturn:
    listed = ", ".join(choice.upper() for choice in choices)
    raise Refusal(100, f'(#100) Param {param} must be one of {{{listed}}} - got "{got}".')


def _not_modelled(what: str) -> NoReturn:
    _invalid(f"the Graph API stand-in does not model {what}")


def _object(parent: dict[str, Any], key: str, param: str) -> dict[str, Any]:
    value = parent.get(key)
    if value is None:
        _required(param)
    if not isinstance(value, dict):
        _invalid(f"Param {param} must be a JSON object.")
    return value


def _string(parent: dict[str, Any], key: str, param: str) -> str:
    value = parent.get(key)
    if value is None:
        _required(param)
    if not isinstance(value, str):
        _invalid(f"Param {param} must be a string.")
    return value


def _only(value: dict[str, Any], allowed: set[str], param: str) -> None:
    for key in value:
        if key not in allowed:
            _invalid(f'Unexpected key "{key}" on param "{param}".')


def _within(text: str, what: str, low: int, high: int) -> None:
    """Meta's 131009 length check, worded as Meta words it."""
    if not low <= len(text) <= high:
        _not_valid(f"{what} length invalid. Min length: {low}, Max length: {high}")


def check_message(payload: object) -> str:
    """Check a send payload; return its type. Raises `Refusal` as Meta would answer."""
    if not isinstance(payload, dict):
        _required("messaging_product")
    product = payload.get("messaging_product")
    if product is None:
        _required("messaging_product")
    if product != "whatsapp":
        _one_of("messaging_product", ("whatsapp",), product)
    recipient_type = payload.get("recipient_type", "individual")
    if recipient_type not in ("individual", "group"):
        _one_of("recipient_type", ("individual", "group"), recipient_type)
    if recipient_type == "group":
        _not_modelled("group messages")
    recipient_id(_string(payload, "to", "to"))
    kind = payload.get("type", "text")  # Meta sends text when type is left out
    if kind not in MESSAGE_TYPES:
        _one_of("type", MESSAGE_TYPES, kind)
    _only(payload, TOP_LEVEL_KEYS | {kind}, "message")
    _check_envelope_extras(payload)
    content = _object(payload, kind, kind)
    if kind == "text":
        _check_text(content)
    elif kind in MEDIA_KEYS:
        _check_media(kind, content, kind)
    elif kind == "interactive":
        _check_interactive(content)
    elif kind == "template":
        _check_template(content)
    else:
        _not_modelled(f"{kind} messages")
    return str(kind)


def recipient_id(to: str) -> str:
    """The WhatsApp id Meta resolves ``to`` into: its digits, when it reads as a number."""
    digits = re.sub(r"[\s+()\-.]", "", to)
    if not digits.isdigit() or not 8 <= len(digits) <= 15:
        _not_valid("Recipient phone number is not a valid phone number")
    return digits


def _check_envelope_extras(payload: dict[str, Any]) -> None:
    if "biz_opaque_callback_data" in payload:
        data = _string(payload, "biz_opaque_callback_data", "biz_opaque_callback_data")
        if len(data) > 512:
            _invalid("Param biz_opaque_callback_data must be at most 512 characters long.")
    if "context" in payload:
        context = _object(payload, "context", "context")
        _only(context, {"message_id"}, "context")
        _string(context, "message_id", "context['message_id']")


def _check_text(text: dict[str, Any]) -> None:
    _only(text, {"body", "preview_url"}, "text")
    body = _string(text, "body", "text['body']")
    if not body:
        _invalid("Param text['body'] must be non-empty.")
    if len(body) > 4096:
        _invalid("Param text['body'] must be at most 4096 characters long.")
    if "preview_url" in text and not isinstance(text["preview_url"], bool):
        _invalid("Param text['preview_url'] must be a boolean.")


def _check_media(kind: str, media: dict[str, Any], param: str, *, header: bool = False) -> None:
    _only(media, {"id", "link"} if header else MEDIA_KEYS[kind], param)
    if ("id" in media) == ("link" in media):
        _invalid(f"Param {param} must have exactly one of 'id' or 'link'.")
    if "id" in media and not _string(media, "id", f"{param}['id']"):
        _invalid(f"Param {param}['id'] must be non-empty.")
    if "link" in media:
        link = _string(media, "link", f"{param}['link']")
        if not re.match(r"https?://[^\s/]+", link):
            _invalid(f"Param {param}['link'] must be a valid http or https URL.")
    if "caption" in media and len(_string(media, "caption", f"{param}['caption']")) > 1024:
        _invalid(f"Param {param}['caption'] must be at most 1024 characters long.")
    if "filename" in media and not _string(media, "filename", f"{param}['filename']"):
        _invalid(f"Param {param}['filename'] must be non-empty.")


def _check_interactive(interactive: dict[str, Any]) -> None:
    kind = _string(interactive, "type", "interactive['type']")
    if kind not in INTERACTIVE_TYPES:
        _one_of("interactive['type']", INTERACTIVE_TYPES, kind)
    if kind not in ("button", "list"):
        _not_modelled(f"{kind} interactive messages")
    _only(interactive, {"type", "header", "body", "footer", "action"}, "interactive")
    if "header" in interactive:
        _check_header(kind, _object(interactive, "header", "interactive['header']"))
    body = _object(interactive, "body", "interactive['body']")
    _only(body, {"text"}, "interactive['body']")
    _within(_string(body, "text", "interactive['body']['text']"), "Body text", 1, 1024)
    if "footer" in interactive:
        footer = _object(interactive, "footer", "interactive['footer']")
        _only(footer, {"text"}, "interactive['footer']")
        _within(_string(footer, "text", "interactive['footer']['text']"), "Footer text", 1, 60)
    action = _object(interactive, "action", "interactive['action']")
    if kind == "button":
        _check_buttons(action)
    else:
        _check_list(action)


def _check_header(kind: str, header: dict[str, Any]) -> None:
    param = "interactive['header']"
    types = ("text", "image", "video", "document") if kind == "button" else ("text",)
    header_type = _string(header, "type", f"{param}['type']")
    if header_type not in types:
        _one_of(f"{param}['type']", types, header_type)
    _only(header, {"type", header_type}, param)
    if header_type == "text":
        _within(_string(header, "text", f"{param}['text']"), "Header text", 1, 60)
    else:
        media = _object(header, header_type, f"{param}['{header_type}']")
        _check_media(header_type, media, f"{param}['{header_type}']", header=True)


def _check_buttons(action: dict[str, Any]) -> None:
    param = "interactive['action']"
    _only(action, {"buttons"}, param)
    buttons = action.get("buttons")
    if buttons is None:
        _required(f"{param}['buttons']")
    if not isinstance(buttons, list):
        _invalid(f"Param {param}['buttons'] must be an array.")
    if not 1 <= len(buttons) <= 3:
        _not_valid("Buttons count invalid. Min: 1, Max: 3")
    ids: set[str] = set()
    titles: set[str] = set()
    for index, button in enumerate(buttons):
        where = f"{param}['buttons'][{index}]"
        if not isinstance(button, dict):
            _invalid(f"Param {where} must be a JSON object.")
        _only(button, {"type", "reply"}, where)
        button_type = _string(button, "type", f"{where}['type']")
        if button_type != "reply":
            _one_of(f"{where}['type']", ("reply",), button_type)
        reply = _object(button, "reply", f"{where}['reply']")
        _only(reply, {"id", "title"}, f"{where}['reply']")
        reply_id = _string(reply, "id", f"{where}['reply']['id']")
        title = _string(reply, "title", f"{where}['reply']['title']")
        _within(reply_id, "Button id", 1, 256)
        _within(title, "Button title", 1, 20)
        if reply_id in ids:
            _not_valid("Button id is duplicate")
        if title in titles:
            _not_valid("Button title is duplicate")
        ids.add(reply_id)
        titles.add(title)


def _check_list(action: dict[str, Any]) -> None:
    param = "interactive['action']"
    _only(action, {"button", "sections"}, param)
    _within(_string(action, "button", f"{param}['button']"), "Button label", 1, 20)
    sections = action.get("sections")
    if sections is None:
        _required(f"{param}['sections']")
    if not isinstance(sections, list):
        _invalid(f"Param {param}['sections'] must be an array.")
    if not 1 <= len(sections) <= 10:
        _not_valid("Sections count invalid. Min: 1, Max: 10")
    rows = 0
    ids: set[str] = set()
    for index, section in enumerate(sections):
        where = f"{param}['sections'][{index}]"
        if not isinstance(section, dict):
            _invalid(f"Param {where} must be a JSON object.")
        _only(section, {"title", "rows"}, where)
        if "title" in section:
            _within(_string(section, "title", f"{where}['title']"), "Section title", 1, 24)
        elif len(sections) > 1:
            _required(f"{where}['title']")
        section_rows = section.get("rows")
        if section_rows is None:
            _required(f"{where}['rows']")
        if not isinstance(section_rows, list):
            _invalid(f"Param {where}['rows'] must be an array.")
        rows += len(section_rows)
        for row_index, row in enumerate(section_rows):
            _check_row(row, f"{where}['rows'][{row_index}]", ids)
    if rows > 10:
        _not_valid("Total row count exceed max allowed count: 10")
    if rows == 0:
        _not_valid("Total row count invalid. Min: 1, Max: 10")


def _check_row(row: object, where: str, ids: set[str]) -> None:
    if not isinstance(row, dict):
        _invalid(f"Param {where} must be a JSON object.")
    _only(row, {"id", "title", "description"}, where)
    row_id = _string(row, "id", f"{where}['id']")
    _within(row_id, "Row id", 1, 200)
    _within(_string(row, "title", f"{where}['title']"), "Row title", 1, 24)
    if "description" in row:
        _within(_string(row, "description", f"{where}['description']"), "Row description", 0, 72)
    if row_id in ids:
        _not_valid("Row id is duplicate")
    ids.add(row_id)


def _check_template(template: dict[str, Any]) -> None:
    _only(template, {"name", "language", "components"}, "template")
    if not _string(template, "name", "template['name']"):
        _invalid("Param template['name'] must be non-empty.")
    language = _object(template, "language", "template['language']")
    _only(language, {"code", "policy"}, "template['language']")
    if not _string(language, "code", "template['language']['code']"):
        _invalid("Param template['language']['code'] must be non-empty.")
    if "policy" in language and language["policy"] != "deterministic":
        _one_of("template['language']['policy']", ("deterministic",), language["policy"])
    components = template.get("components", [])
    if not isinstance(components, list):
        _invalid("Param template['components'] must be an array.")
    for index, component in enumerate(components):
        where = f"template['components'][{index}]"
        if not isinstance(component, dict):
            _invalid(f"Param {where} must be a JSON object.")
        kind = _string(component, "type", f"{where}['type']")
        if kind not in ("header", "body", "button"):
            _one_of(f"{where}['type']", ("header", "body", "button"), kind)
        if kind == "button":
            _string(component, "sub_type", f"{where}['sub_type']")
            if "index" not in component:
                _required(f"{where}['index']")
        if not isinstance(component.get("parameters", []), list):
            _invalid(f"Param {where}['parameters'] must be an array.")


def check_read_receipt(payload: dict[str, Any]) -> None:
    """``{"status": "read", "message_id": …}``: marks a received message as read."""
    _only(payload, {"messaging_product", "status", "message_id", "typing_indicator"}, "message")
    if payload.get("messaging_product") != "whatsapp":
        _one_of("messaging_product", ("whatsapp",), payload.get("messaging_product"))
    if payload["status"] != "read":
        _one_of("status", ("read",), payload["status"])
    _string(payload, "message_id", "message_id")
