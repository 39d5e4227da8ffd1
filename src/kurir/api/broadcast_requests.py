"""Request bodies of the broadcast and contact endpoints, with Alat WA's field names.

As for the sends (`kurir.api.requests`), these structs are the one
description of what the handlers read and of what the API document shows.
Their lists may come from PHP as nested form keys (``receiver[0][phone]``,
what ``http_build_query`` writes), folded here into JSON's shape.
"""

import re
from typing import Annotated, Any, TypeVar

import msgspec

from kurir.api.body import Fields, FormFields, whole_number
from kurir.api.requests import NOT_BLANK, Phone, Schedule
from kurir.domain.contacts import MAX_GROUP, MAX_NAME, MAX_OPTION
from kurir.domain.errors import ValidationError

_NESTED = re.compile(r"(?P<name>[A-Za-z_]+)\[(?P<index>\d+)\]\[(?P<field>[A-Za-z_0-9]+)\]")
#: The largest index of a nested form key: a broadcast's receivers are many.
_MAX_INDEX = 999_999
T = TypeVar("T", bound=msgspec.Struct)
_MISSING = re.compile(r"Object missing required field `(?P<field>\w+)`")

YesNo = Annotated[
    str | bool | None,
    msgspec.Meta(description="`yes` or `no` (also true/false, 1/0).", examples=["yes"]),
]
Group = Annotated[
    str | None,
    msgspec.Meta(
        description=f"A contact group's name, up to {MAX_GROUP} characters.",
        examples=["pelanggan-vip"],
        extra_json_schema={"maxLength": MAX_GROUP},
    ),
]
Seconds = Annotated[
    int | float | str | None,
    msgspec.Meta(description="Seconds, from 0 to 86400.", examples=[5]),
]


def _text(description: str, example: str, max_length: int) -> Any:
    return msgspec.Meta(
        description=description, examples=[example], extra_json_schema={"maxLength": max_length}
    )


Name = Annotated[str | None, _text("The contact's name: `{name}`.", "Budi", MAX_NAME)]
Option = Annotated[
    str | None, _text("A field of your own: `{opt1}` … `{opt7}`.", "VIP", MAX_OPTION)
]


class ContactFields(msgspec.Struct, frozen=True, kw_only=True):
    """A contact's own fields, which fill a message's placeholders."""

    name: Name = None
    opt1: Option = None
    opt2: Option = None
    opt3: Option = None
    opt4: Option = None
    opt5: Option = None
    opt6: Option = None
    opt7: Option = None


class BroadcastReceiver(ContactFields, frozen=True, kw_only=True):
    """One recipient, with their own message; the contact fields fill placeholders."""

    phone: Phone
    message: Annotated[
        str | None,
        msgspec.Meta(
            description="This recipient's text (a caption, for media), with spintax and "
            "placeholders; absent: the broadcast's `message` (or `caption`).",
            examples=["{Halo|Hai} {name}, pesanan Anda sudah dikirim."],
        ),
    ] = None


class BroadcastCreateRequest(msgspec.Struct, frozen=True, kw_only=True):
    """Alat WA's broadcast: many recipients, sent over time at a random pace."""

    device: Annotated[
        str,
        msgspec.Meta(
            description="One of your devices, or `default` for your account's first.",
            examples=["default"],
            extra_json_schema={"minLength": 1, "pattern": NOT_BLANK},
        ),
    ]
    title: Annotated[
        str,
        msgspec.Meta(
            description="Your name for the broadcast, 1 to 200 characters.",
            examples=["Promo Lebaran"],
            extra_json_schema={"minLength": 1, "maxLength": 200, "pattern": NOT_BLANK},
        ),
    ]
    date_execute: Schedule = None
    active_start: Annotated[
        str | None,
        msgspec.Meta(
            description="With `active_end`, the daily window (`H:i:s` in the server's time "
            "zone) outside which nothing is sent; it may cross midnight.",
            examples=["08:00:00"],
        ),
    ] = None
    active_end: Annotated[
        str | None, msgspec.Meta(description="The window's end.", examples=["17:00:00"])
    ] = None
    interval_from: Seconds = None
    interval_to: Seconds = None
    type: Annotated[
        str | None,
        msgspec.Meta(
            description="`text` (the default) or `media`.",
            examples=["text"],
        ),
    ] = None
    media_base64: Annotated[
        str | None,
        msgspec.Meta(
            description="For `media`: the file, base64 (a `data:` URL too): a JPEG or PNG "
            "image, MP4 video, audio, or a PDF, within WhatsApp's size for its type.",
            examples=["iVBORw0KGgo…"],
        ),
    ] = None
    caption: Annotated[
        str | None,
        msgspec.Meta(
            description="For `media`: the caption, with spintax and placeholders.",
            examples=["{Promo|Diskon} untuk {name}"],
        ),
    ] = None
    generate_receiver: YesNo = None
    receiver: Annotated[
        list[BroadcastReceiver],
        msgspec.Meta(
            description="The recipients, each `{phone, message}`; or give `group`.",
            examples=[[{"phone": "08111111111", "message": "{Halo|Hai} kak!"}]],
        ),
    ] = []
    group: Group = None
    message: Annotated[
        str | None,
        msgspec.Meta(
            description="The text for every recipient without one of their own (with "
            "`group`, for all), with spintax and placeholders.",
            examples=["{Halo|Hai} {name}!"],
        ),
    ] = None
    skip_invalid: YesNo = None


class Customer(ContactFields, frozen=True, kw_only=True):
    phone: Phone


class CustomerCreateRequest(msgspec.Struct, frozen=True, kw_only=True):
    """Alat WA's contacts: a list of customers, added to a group."""

    customers: Annotated[
        list[Customer],
        msgspec.Meta(
            description="The contacts, each `{phone, name, opt1…opt7}`.",
            examples=[[{"phone": "08111111111", "name": "Budi", "opt1": "VIP"}]],
            extra_json_schema={"minItems": 1},
        ),
    ]
    group: Group = None
    generate_prefix_number: YesNo = None
    filter_duplicate: YesNo = None
    skip_invalid: YesNo = None


def convert_bulk(fields: Fields, request_type: type[T]) -> T:
    """Fields as ``request_type``, or a ValidationError naming the (maybe nested) field.

    A form's nested keys are folded into lists first, and a form field that
    holds a list JSON-encoded is decoded, as the sends read ``buttons``.
    """
    if isinstance(fields, FormFields):
        fields = _fold_nested(fields)
        for name, value in list(fields.items()):
            if name in _LISTS and isinstance(value, str) and value.lstrip().startswith("["):
                try:
                    fields[name] = msgspec.json.decode(value)
                except (msgspec.DecodeError, RecursionError):
                    raise ValidationError(f"{name} is not a valid JSON array") from None
    try:
        return msgspec.convert(fields, request_type)
    except msgspec.ValidationError as error:
        raise ValidationError(_message(str(error))) from None


#: The list fields of these requests.
_LISTS = frozenset({"receiver", "customers"})
_EXPECTED = re.compile(r"Expected `(?P<expected>[^`]+)`, got `(?P<got>[^`]+)`")
#: What a field must be, by the types msgspec names (sorted, without null).
_WORDS = {
    "str": "text",
    "array": "an array",
    "object": "an object",
    "int | str": "text or a number",
    "float | int | str": "a number of seconds",
    "bool | str": "yes or no",
}


def _message(text: str) -> str:
    """msgspec's account of a field at fault, in Kurir's words."""
    problem, _, where = text.partition(" - at `$.")
    path = where.rstrip("`")
    missing = _MISSING.fullmatch(problem)
    if missing is not None:
        return f"{path + '.' if path else ''}{missing['field']} is required"
    expected = _EXPECTED.fullmatch(problem)
    if expected is None:  # pragma: no cover  # msgspec says one of the two for these types
        return f"{path}: {problem}"
    if expected["got"] == "null" and "null" not in expected["expected"]:
        return f"{path} is required"
    types = " | ".join(sorted(kind for kind in expected["expected"].split(" | ") if kind != "null"))
    words = _WORDS.get(types, types)
    return f"{path} must be {words}"


def _fold_nested(fields: FormFields) -> FormFields:
    """``receiver[0][phone]=…&receiver[0][message]=…`` as a list of objects."""
    folded = FormFields()
    nested: dict[str, dict[int, dict[str, Any]]] = {}
    for key, value in fields.items():
        match = _NESTED.fullmatch(key)
        if match is None:
            folded[key] = value
            continue
        index = whole_number(match["index"], _MAX_INDEX)
        if index is None:
            raise ValidationError(
                f"{match['name']}[] indexes must be whole numbers up to {_MAX_INDEX}"
            )
        item = nested.setdefault(match["name"], {}).setdefault(index, {})
        item[match["field"]] = value
    for name, items in nested.items():
        if name in folded:
            raise ValidationError(f"{name} is given both as {name} and as {name}[0][…]; use one")
        folded[name] = [items[index] for index in sorted(items)]
    return folded
