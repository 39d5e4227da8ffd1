"""Request bodies: the one description of what each endpoint reads.

Handlers convert the body's field mapping (JSON or a form, see body.py) into
these structs with `convert_fields`, and openapi.py builds the API document
from them, so the document cannot drift from what the handlers read. Fields
are in the order the handlers check them.

msgspec checks the types. The limits written into the schema with
``extra_json_schema`` are the handlers' own to check: they count lengths
after trimming and take some limits from the device's transport, and they
name the field at fault in Kurir's words, which msgspec's checks would not.
"""

import functools
import re
from typing import Annotated, Any, TypeVar

import msgspec

from kurir.api.body import Fields, FormFields
from kurir.domain.content import WHATSAPP_LIMITS, MediaType
from kurir.domain.errors import ValidationError

#: What "must not be empty" means: some character other than whitespace.
NOT_BLANK = r"\S"
_BUTTONS = WHATSAPP_LIMITS.buttons


def _text(description: str, examples: list[str], max_length: int) -> msgspec.Meta:
    """A required text, checked after trimming."""
    return msgspec.Meta(
        description=f"{description} Required, 1 to {max_length} characters after trimming.",
        examples=examples,
        extra_json_schema={"minLength": 1, "maxLength": max_length, "pattern": NOT_BLANK},
    )


Device = Annotated[
    str,
    msgspec.Meta(
        description="The id of one of your account's devices: the WhatsApp account that "
        "sends. Another account's device is not found, exactly like a missing one.",
        examples=["dev-main"],
        extra_json_schema={"minLength": 1, "pattern": NOT_BLANK},
    ),
]
Phone = Annotated[
    str | int,
    msgspec.Meta(
        description="The recipient, in any usual notation; it becomes country code and "
        "number, digits only (`628111111111`). A number without a country code is read "
        "in the server's default region. May be a JSON number.",
        examples=["08111111111", "+62 811-1111-111", 628111111111],
        extra_json_schema={"pattern": NOT_BLANK},
    ),
]
Schedule = Annotated[
    str | None,
    msgspec.Meta(
        description="When to send: `Y-m-d H:i:s` in the server's time zone, or ISO 8601 "
        "with an offset. Absent, empty or in the past: now. At most the server's "
        "schedule horizon (365 days by default) ahead.",
        examples=["2026-12-31 09:30:00", "2026-12-31T09:30:00+07:00"],
    ),
]
ButtonLabel = Annotated[
    str,
    msgspec.Meta(
        extra_json_schema={
            "minLength": 1,
            "maxLength": _BUTTONS.max_label,
            "pattern": NOT_BLANK,
        }
    ),
]


class SendTextRequest(msgspec.Struct, frozen=True, kw_only=True):
    """A text message."""

    device: Device
    phone: Phone
    message: Annotated[
        str, _text("The text.", ["Halo, pesanan Anda sudah dikirim."], WHATSAPP_LIMITS.max_text)
    ]
    schedule: Schedule = None


class SendMediaRequest(msgspec.Struct, frozen=True, kw_only=True):
    """A picture, video, audio or document, which Kurir fetches from a URL."""

    device: Device
    phone: Phone
    url: Annotated[
        str,
        msgspec.Meta(
            description="Where Kurir fetches the file: http or https, on a public address.",
            examples=["https://example.com/invoice-0042.pdf"],
            extra_json_schema={"format": "uri", "pattern": "^https?://"},
        ),
    ]
    type: Annotated[
        Annotated[str, msgspec.Meta(extra_json_schema={"enum": list(MediaType)})] | None,
        msgspec.Meta(
            description="How WhatsApp shows the file; when absent or empty, Kurir tells "
            "from the file.",
            examples=["document"],
        ),
    ] = None
    caption: Annotated[
        str | None,
        msgspec.Meta(
            description=f"Text shown with the file, up to {WHATSAPP_LIMITS.max_caption} "
            "characters after trimming; not on audio.",
            examples=["Invoice 0042"],
            extra_json_schema={"maxLength": WHATSAPP_LIMITS.max_caption},
        ),
    ] = None
    filename: Annotated[
        str | None,
        msgspec.Meta(
            description="The name the recipient sees for a document.",
            examples=["invoice-0042.pdf"],
        ),
    ] = None
    schedule: Schedule = None


class SendButtonRequest(msgspec.Struct, frozen=True, kw_only=True):
    """Alat WA's button message: up to 3 choices as reply buttons, 4 to 10 as a list."""

    device: Device
    phone: Phone
    message_header: Annotated[
        str, _text("The header, in bold above the text.", ["Header"], _BUTTONS.max_header)
    ]
    message: Annotated[str, _text("The text.", ["Pilih salah satu:"], _BUTTONS.max_body)]
    message_footer: Annotated[
        str, _text("The footer, in grey below the text.", ["Footer"], _BUTTONS.max_footer)
    ]
    buttons: Annotated[
        list[ButtonLabel],
        msgspec.Meta(
            description=f"The choices: 1 to {_BUTTONS.max_buttons} labels of "
            f"1 to {_BUTTONS.max_label} characters after trimming, unique ignoring case. "
            f"Up to {_BUTTONS.max_reply_buttons} go out as reply buttons, more as a "
            "list message; the limits are the device's transport's (these are WhatsApp's). "
            "A form may send `buttons[]=A&buttons[]=B`, `buttons[0]=A`, or one field holding "
            'the array JSON-encoded (`["A","B"]`).',
            examples=[["Opsi 1", "Opsi 2", "Opsi 3"]],
            extra_json_schema={"minItems": 1, "maxItems": _BUTTONS.max_buttons},
        ),
    ]
    schedule: Schedule = None


class SendTemplateRequest(msgspec.Struct, frozen=True, kw_only=True):
    """A message template approved in Meta's console; `cloud` devices only.

    WhatsApp delivers nothing else to a recipient who has not written to the
    number in the last 24 hours.
    """

    device: Device
    phone: Phone
    template: Annotated[
        str,
        msgspec.Meta(
            description="The template's name, as approved in Meta's console: lower-case "
            "letters, digits and _.",
            examples=["order_shipped"],
            extra_json_schema={"minLength": 1, "maxLength": 512, "pattern": NOT_BLANK},
        ),
    ]
    language: Annotated[
        str,
        msgspec.Meta(
            description="The language of the template's approved translation: `id`, `en_US`, …",
            examples=["id"],
            extra_json_schema={"minLength": 2, "maxLength": 6, "pattern": NOT_BLANK},
        ),
    ]
    components: Annotated[
        list[dict[str, Any]],
        msgspec.Meta(
            description="The template's parameters, as Meta's API takes them: one object per "
            "component (`header`, `body`, `button`) with its `parameters`. Passed to Meta as "
            "given; a form may send the array JSON-encoded.",
            examples=[[{"type": "body", "parameters": [{"type": "text", "text": "Budi"}]}]],
            extra_json_schema={"maxItems": 20},
        ),
    ] = []
    schedule: Schedule = None


class SandboxReplyRequest(msgspec.Struct, frozen=True, kw_only=True):
    """The recipient answers the latest message the sandbox delivered to them."""

    phone: Annotated[
        str | int,
        msgspec.Meta(
            description="The recipient who answers, in any usual notation.",
            examples=["08111111111", 628111111111],
            extra_json_schema={"pattern": NOT_BLANK},
        ),
    ]
    button: Annotated[
        str | int | None,
        msgspec.Meta(
            description="The button pressed: its label (ignoring case and surrounding "
            "spaces) or its position, from 1. Give this or `text`.",
            examples=["Opsi 2", 2],
        ),
    ] = None
    text: Annotated[
        str | None,
        msgspec.Meta(
            description="A message the recipient writes instead of pressing a button; "
            "it arrives as an inbound message. Give this or `button`.",
            examples=["Kapan barangnya sampai?"],
            extra_json_schema={
                "minLength": 1,
                "maxLength": WHATSAPP_LIMITS.max_text,
                "pattern": NOT_BLANK,
            },
        ),
    ] = None


#: How many numbers one POST /check-numbers may ask about.
MAX_CHECK_PHONES = 50


class CheckNumbersRequest(msgspec.Struct, frozen=True, kw_only=True):
    """Which numbers are on WhatsApp, asked through a connected WhatsApp Web device."""

    device: Device
    phones: Annotated[
        list[str | int],
        msgspec.Meta(
            description=f"1 to {MAX_CHECK_PHONES} phone numbers, each in any usual notation "
            "(as `phone` of a send). A form may send `phones[]=A&phones[]=B` or the array "
            "JSON-encoded.",
            examples=[["08111111111", "+62 811-1111-112"]],
            extra_json_schema={"minItems": 1, "maxItems": MAX_CHECK_PHONES},
        ),
    ]


REQUEST_TYPES = (
    SendTextRequest,
    SendMediaRequest,
    SendButtonRequest,
    SendTemplateRequest,
    SandboxReplyRequest,
    CheckNumbersRequest,
)
#: Any request struct (these, and the webhooks' in webhook_types.py).
RequestBody = TypeVar("RequestBody", bound=msgspec.Struct)


class _Rules(msgspec.Struct, frozen=True):
    """What `convert_fields` checks of one request type beyond msgspec's types."""

    #: Text fields that must hold more than whitespace, in declaration order.
    not_blank: tuple[str, ...]
    #: Array fields a form may send as one JSON-encoded field.
    json_arrays: frozenset[str]
    #: True-or-false fields, which a form sends as text.
    booleans: frozenset[str]
    #: Fields that must be given (null is then "missing"; elsewhere it is a wrong type).
    required: frozenset[str]


@functools.cache
def _rules(request_type: type[msgspec.Struct]) -> _Rules:
    info = msgspec.inspect.type_info(request_type)
    assert isinstance(info, msgspec.inspect.StructType)
    not_blank: list[str] = []
    json_arrays: set[str] = set()
    booleans: set[str] = set()
    for field in info.fields:
        kind = field.type
        if isinstance(kind, msgspec.inspect.Metadata):
            if (kind.extra_json_schema or {}).get("pattern") == NOT_BLANK:
                not_blank.append(field.encode_name)
            kind = kind.type
        # An optional field's type is a union with None: its other member counts.
        kinds = kind.types if isinstance(kind, msgspec.inspect.UnionType) else (kind,)
        for member in kinds:
            if isinstance(member, msgspec.inspect.Metadata):
                member = member.type
            if isinstance(member, msgspec.inspect.ListType):
                json_arrays.add(field.encode_name)
            if isinstance(member, msgspec.inspect.BoolType):
                booleans.add(field.encode_name)
    return _Rules(
        not_blank=tuple(not_blank),
        json_arrays=frozenset(json_arrays),
        booleans=frozenset(booleans),
        required=frozenset(field.encode_name for field in info.fields if field.required),
    )


#: Kurir's words for a field of the wrong type, where "must be a string" is not them.
_WRONG_TYPE = {
    "buttons": "buttons must be an array of labels",
    "button": "button must be a button's label or its position (from 1)",
    "type": "type must be image, video, audio or document",
    "events": "events must be an array of event names",
    "devices": "devices must be an array of device ids, or null for all devices",
    "enabled": "enabled must be true or false",
    "since": "since must be Unix seconds or an ISO 8601 time",
    "components": "components must be an array of objects",
    "phones": "phones must be an array of phone numbers",
}
#: What the items of an array field must be, where they are not texts.
_ITEM = {"components": "an object", "phones": "a phone number"}
#: How a form writes true and false.
_FORM_BOOLEANS = {"true": True, "false": False, "1": True, "0": False}
_MISSING = re.compile(r"Object missing required field `(?P<field>\w+)`")
_AT = re.compile(r"(?P<problem>.*) - at `\$\.(?P<field>\w+)(?P<index>\[\d+\])?`")


def convert_fields(fields: Fields, request_type: type[RequestBody]) -> RequestBody:
    """``fields`` as ``request_type``, or a ValidationError in Kurir's words.

    The first field at fault is reported, in the order the body holds them
    (the order msgspec reads them in). A text field of only whitespace is
    refused here, before any lookup, as it always was.
    """
    rules = _rules(request_type)
    if isinstance(fields, FormFields) and rules.booleans & fields.keys():
        fields = _form_booleans(fields, rules.booleans)
    try:
        request = msgspec.convert(fields, request_type)
    except msgspec.ValidationError as error:
        text = str(error)
        at = _AT.fullmatch(text)
        if at is not None and at["index"] is None and at["field"] in rules.json_arrays:
            value = fields.get(at["field"])
            if isinstance(value, str):
                array = _json_array(at["field"], value, form=isinstance(fields, FormFields))
                decoded = {**fields, at["field"]: array}
                if isinstance(fields, FormFields):
                    decoded = FormFields(decoded)
                return convert_fields(decoded, request_type)
        raise ValidationError(_message(text, rules)) from None
    for name in rules.not_blank:
        value = getattr(request, name)
        # isspace() is False for "": together they are `not value.strip()`, without a copy.
        if isinstance(value, str) and (not value or value.isspace()):
            raise ValidationError(f"{name} must not be empty")
    return request


def _form_booleans(fields: FormFields, names: frozenset[str]) -> FormFields:
    """A form's ``true``/``false`` (or 1/0) as booleans; other text is left to be refused."""
    converted = FormFields(fields)
    for name in names & fields.keys():
        value = fields[name]
        if isinstance(value, str) and value.strip().lower() in _FORM_BOOLEANS:
            converted[name] = _FORM_BOOLEANS[value.strip().lower()]
    return converted


def _json_array(name: str, value: str, *, form: bool) -> Any:
    """A field holding an array JSON-encoded; in a form, a lone value is one item."""
    if not value.lstrip().startswith("["):
        if form:
            return [value]
        raise ValidationError(_WRONG_TYPE.get(name, f"{name} must be an array"))
    try:
        return msgspec.json.decode(value)
    # RecursionError: msgspec's answer to deeply nested input, a client error too.
    except (msgspec.DecodeError, RecursionError):
        raise ValidationError(f"{name} is not a valid JSON array") from None


def _message(text: str, rules: _Rules) -> str:
    """msgspec's account of a field at fault, in Kurir's words."""
    missing = _MISSING.fullmatch(text)
    if missing is not None:
        return f"{missing['field']} is required"
    at = _AT.fullmatch(text)
    if at is None:  # pragma: no cover  # a struct's fields always carry a path
        return text
    field, index = at["field"], at["index"]
    if index is not None:
        return f"{field}{index} must be {_ITEM.get(field, 'a string')}"
    if at["problem"].endswith("got `null`") and field in rules.required:
        return f"{field} is required"
    return _WRONG_TYPE.get(field, f"{field} must be a string")
