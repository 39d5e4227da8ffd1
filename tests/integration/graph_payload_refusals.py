"""Send payloads Meta refuses, for the Graph API stand-in's tests.

Each case changes one thing in a valid payload and names the envelope Meta
answers for it: its code, its message, and the details.
"""

from typing import Any

from tests.integration.graph_payload_cases import (
    AUDIO,
    BUTTON,
    BUTTONS,
    IMAGE,
    LIST,
    REMOVE,
    SECTIONS,
    TEMPLATE,
    TEXT,
    Case,
    changed,
    message,
    reply,
    rows,
)


def required(name: str, payload: Any, param: str) -> Case:
    return Case(name, payload, 100, f"(#100) The parameter {param} is required.")


def invalid(name: str, payload: Any, details: str) -> Case:
    return Case(name, payload, 100, "(#100) Invalid parameter", details)


def not_valid(name: str, payload: Any, details: str) -> Case:
    return Case(name, payload, 131009, "(#131009) Parameter value is not valid", details)


def one_of(name: str, payload: Any, param: str, choices: str, got: str) -> Case:
    return Case(
        name, payload, 100, f'(#100) Param {param} must be one of {{{choices}}} - got "{got}".'
    )


def length(what: str, low: int, high: int) -> str:
    return f"{what} length invalid. Min length: {low}, Max length: {high}"


MESSAGE_TYPES = (
    "AUDIO, CONTACTS, DOCUMENT, IMAGE, INTERACTIVE, LOCATION, REACTION, STICKER, TEMPLATE, TEXT, "
    "VIDEO"
)

INVALID = [
    required(
        "no messaging_product", changed(TEXT, "messaging_product", REMOVE), "messaging_product"
    ),
    one_of(
        "messaging_product not whatsapp",
        changed(TEXT, "messaging_product", "sms"),
        "messaging_product",
        "WHATSAPP",
        "sms",
    ),
    required("no recipient", changed(TEXT, "to", REMOVE), "to"),
    not_valid(
        "recipient not a number",
        changed(TEXT, "to", "budi"),
        "Recipient phone number is not a valid phone number",
    ),
    one_of(
        "recipient_type unknown",
        changed(TEXT, "recipient_type", "broadcast"),
        "recipient_type",
        "INDIVIDUAL, GROUP",
        "broadcast",
    ),
    one_of(
        "type not a message type",
        changed(BUTTONS, "type", "button"),
        "type",
        MESSAGE_TYPES,
        "button",
    ),
    required("text type without text", changed(TEXT, "text", REMOVE), "text"),
    required("text without body", changed(TEXT, "text.body", REMOVE), "text['body']"),
    invalid("empty text", changed(TEXT, "text.body", ""), "Param text['body'] must be non-empty."),
    invalid(
        "text of 4097 characters",
        changed(TEXT, "text.body", "x" * 4097),
        "Param text['body'] must be at most 4096 characters long.",
    ),
    invalid(
        "preview_url not a boolean",
        changed(TEXT, "text.preview_url", "true"),
        "Param text['preview_url'] must be a boolean.",
    ),
    invalid(
        "unknown key in text",
        changed(TEXT, "text.header", "Hi"),
        'Unexpected key "header" on param "text".',
    ),
    invalid(
        "unknown key in the message",
        TEXT | {"image": {"id": "1"}},
        'Unexpected key "image" on param "message".',
    ),
    invalid(
        "biz_opaque_callback_data of 513",
        TEXT | {"biz_opaque_callback_data": "k" * 513},
        "Param biz_opaque_callback_data must be at most 512 characters long.",
    ),
    invalid(
        "media with neither link nor id",
        changed(IMAGE, "image.link", REMOVE),
        "Param image must have exactly one of 'id' or 'link'.",
    ),
    invalid(
        "media with both link and id",
        changed(IMAGE, "image.id", "1"),
        "Param image must have exactly one of 'id' or 'link'.",
    ),
    invalid(
        "media link not http",
        changed(IMAGE, "image.link", "ftp://example.com/a.jpg"),
        "Param image['link'] must be a valid http or https URL.",
    ),
    invalid(
        "caption on audio",
        changed(AUDIO, "audio.caption", "Hi"),
        'Unexpected key "caption" on param "audio".',
    ),
    invalid(
        "filename on image",
        changed(IMAGE, "image.filename", "a.jpg"),
        'Unexpected key "filename" on param "image".',
    ),
    invalid(
        "caption of 1025",
        changed(IMAGE, "image.caption", "c" * 1025),
        "Param image['caption'] must be at most 1024 characters long.",
    ),
    not_valid(
        "no reply button", changed(BUTTONS, BUTTON, []), "Buttons count invalid. Min: 1, Max: 3"
    ),
    not_valid(
        "four reply buttons",
        changed(BUTTONS, BUTTON, [reply(c, c) for c in "abcd"]),
        "Buttons count invalid. Min: 1, Max: 3",
    ),
    not_valid(
        "button title of 21 characters",
        changed(BUTTONS, f"{BUTTON}.0.reply.title", "t" * 21),
        length("Button title", 1, 20),
    ),
    not_valid(
        "empty button title",
        changed(BUTTONS, f"{BUTTON}.0.reply.title", ""),
        length("Button title", 1, 20),
    ),
    not_valid(
        "button id of 257 characters",
        changed(BUTTONS, f"{BUTTON}.0.reply.id", "i" * 257),
        length("Button id", 1, 256),
    ),
    not_valid(
        "duplicate button ids",
        changed(BUTTONS, f"{BUTTON}.1.reply.id", "opsi-1"),
        "Button id is duplicate",
    ),
    not_valid(
        "duplicate button titles",
        changed(BUTTONS, f"{BUTTON}.1.reply.title", "Opsi 1"),
        "Button title is duplicate",
    ),
    one_of(
        "button not a reply",
        changed(BUTTONS, f"{BUTTON}.0.type", "url"),
        "interactive['action']['buttons'][0]['type']",
        "REPLY",
        "url",
    ),
    required(
        "interactive without body",
        changed(BUTTONS, "interactive.body", REMOVE),
        "interactive['body']",
    ),
    not_valid(
        "body of 1025 characters",
        changed(BUTTONS, "interactive.body.text", "b" * 1025),
        length("Body text", 1, 1024),
    ),
    not_valid(
        "header of 61 characters",
        changed(BUTTONS, "interactive.header.text", "h" * 61),
        length("Header text", 1, 60),
    ),
    not_valid(
        "footer of 61 characters",
        changed(BUTTONS, "interactive.footer.text", "f" * 61),
        length("Footer text", 1, 60),
    ),
    not_valid(
        "list button label of 21",
        changed(LIST, "interactive.action.button", "p" * 21),
        length("Button label", 1, 20),
    ),
    not_valid(
        "eleven rows across sections",
        changed(LIST, f"{SECTIONS}.1.rows", rows(6, 11)),
        "Total row count exceed max allowed count: 10",
    ),
    not_valid(
        "no rows",
        changed(LIST, SECTIONS, [{"title": "Kosong", "rows": []}]),
        "Total row count invalid. Min: 1, Max: 10",
    ),
    not_valid(
        "row title of 25",
        changed(LIST, f"{SECTIONS}.0.rows.0.title", "t" * 25),
        length("Row title", 1, 24),
    ),
    not_valid(
        "row id of 201",
        changed(LIST, f"{SECTIONS}.0.rows.0.id", "i" * 201),
        length("Row id", 1, 200),
    ),
    not_valid(
        "row description of 73",
        changed(LIST, f"{SECTIONS}.0.rows.0.description", "d" * 73),
        length("Row description", 0, 72),
    ),
    not_valid(
        "duplicate row ids",
        changed(LIST, f"{SECTIONS}.1.rows.0.id", "opsi-1"),
        "Row id is duplicate",
    ),
    not_valid(
        "section title of 25",
        changed(LIST, f"{SECTIONS}.0.title", "s" * 25),
        length("Section title", 1, 24),
    ),
    required(
        "untitled section among two",
        changed(LIST, f"{SECTIONS}.0.title", REMOVE),
        "interactive['action']['sections'][0]['title']",
    ),
    one_of(
        "image header on a list",
        changed(LIST, "interactive.header", {"type": "image", "image": {"id": "1"}}),
        "interactive['header']['type']",
        "TEXT",
        "image",
    ),
    required(
        "template without name", changed(TEMPLATE, "template.name", REMOVE), "template['name']"
    ),
    required(
        "template without language",
        changed(TEMPLATE, "template.language", REMOVE),
        "template['language']",
    ),
    required(
        "template language without code",
        changed(TEMPLATE, "template.language", {}),
        "template['language']['code']",
    ),
    one_of(
        "template component of unknown type",
        changed(TEMPLATE, "template.components", [{"type": "footer"}]),
        "template['components'][0]['type']",
        "HEADER, BODY, BUTTON",
        "footer",
    ),
    invalid(
        "interactive type not modelled",
        changed(BUTTONS, "interactive.type", "flow"),
        "the Graph API stand-in does not model flow interactive messages",
    ),
    invalid(
        "message type not modelled",
        message("location", {"latitude": "1", "longitude": "2"}),
        "the Graph API stand-in does not model location messages",
    ),
]
