"""Reading request bodies as the clients of gateway APIs send them.

JSON is the documented form. PHP clients often post forms instead, either
``buttons[]=A&buttons[]=B`` or a ``buttons`` field holding a JSON array, and
both urlencoded and multipart; all of them become the same field mapping.
"""

import re
from collections.abc import AsyncGenerator
from typing import Any
from urllib.parse import parse_qsl

import msgspec
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from kurir.api.errors import ApiError
from kurir.domain.errors import ValidationError

_JSON = "application/json"
_FORM = "application/x-www-form-urlencoded"
_MULTIPART = "multipart/form-data"
_SNIFFED = ("", _FORM, "text/plain")
_BOM = b"\xef\xbb\xbf"
_INDEXED = re.compile(r"^(?P<name>[A-Za-z_]+)\[(?P<index>\d*)\]$")
_DECODER = msgspec.json.Decoder()
#: The largest index of a ``name[N]`` form key: lists here hold ten items at most.
_MAX_INDEX = 9999

Fields = dict[str, Any]


def whole_number(text: str, maximum: int) -> int | None:
    """``text`` as a whole number from 0 to ``maximum``, or None for anything else.

    ASCII digits only: str.isdigit() also accepts "²", which int() refuses.
    The length is checked before converting: int() refuses more than 4,300
    digits (a 500 once), and a number longer than ``maximum`` is beyond it.
    """
    if not (text.isascii() and text.isdigit()):
        return None
    digits = text.lstrip("0") or "0"
    if len(digits) > len(str(maximum)):
        return None
    value = int(digits)
    return value if value <= maximum else None


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The raw body, refused with 413 as soon as it grows past ``max_bytes``."""
    declared = request.headers.get("content-length")
    # A header that is not a number is the server's to refuse; the stream is counted anyway.
    if declared is not None and declared.isdigit() and whole_number(declared, max_bytes) is None:
        raise ApiError(413, f"Request body is larger than {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise ApiError(413, f"Request body is larger than {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_fields(request: Request, max_bytes: int) -> Fields:
    """The body's fields, whatever of the accepted forms it came in."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    # Some Windows tools start UTF-8 text with a byte-order mark; JSON forbids it.
    body = (await read_body(request, max_bytes)).removeprefix(_BOM)
    if media_type == _MULTIPART:
        return await _multipart_fields(request, body)
    # A JSON body behind a form content type, or none, is what curl -d and
    # PHP's CURLOPT_POSTFIELDS send when the header is forgotten; fetch()
    # sends a string body as text/plain.
    if media_type == _JSON or (media_type in _SNIFFED and body.lstrip()[:1] == b"{"):
        return _json_fields(body)
    if media_type == _FORM:
        # surrogateescape keeps bytes that are not UTF-8 apart, to be refused
        # rather than stored as U+FFFD.
        text = body.decode("utf-8", "surrogateescape")
        pairs = parse_qsl(text, keep_blank_values=True, errors="surrogateescape")
        for name, value in pairs:
            if not _is_text(name) or not _is_text(value):
                raise ApiError(
                    400, f"Request body is not a valid form: field {name!r} is not valid UTF-8"
                )
        return _form_fields(pairs)
    raise ApiError(
        415,
        "Content-Type must be application/json, application/x-www-form-urlencoded "
        "or multipart/form-data",
    )


def _json_fields(body: bytes) -> Fields:
    if not body.strip():
        raise ApiError(400, "Request body is empty; expected a JSON object")
    try:
        value = _DECODER.decode(body)
    except msgspec.DecodeError as error:
        raise ApiError(400, f"Request body is not valid JSON: {error}") from None
    except RecursionError:
        # msgspec gives up on deeply nested input ("[[[[…", a few KiB suffice)
        # with RecursionError, which would otherwise surface as a 500.
        raise ApiError(400, "Request body is not valid JSON: it is nested too deeply") from None
    if not isinstance(value, dict):
        raise ApiError(400, "Request body must be a JSON object")
    return value


def _is_text(value: str) -> bool:
    """False when ``value`` holds bytes that were not UTF-8 (as surrogate escapes)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class _Utf8MultiPartParser(MultiPartParser):
    """Starlette's multipart parser, except that a field must be UTF-8.

    Starlette reads a field that is not UTF-8 as Latin-1, silently; JSON
    refuses such a body, and so does a form now.
    """

    def on_part_end(self) -> None:
        part = self._current_part  # the parser's own state, as its other callbacks use it
        if part.file is not None:  # an upload: no field Kurir reads
            super().on_part_end()
            return
        try:
            value = part.data.decode("utf-8")
        except UnicodeDecodeError:
            raise MultiPartException(f"field {part.field_name!r} is not valid UTF-8") from None
        self.items.append((part.field_name, value))


async def _multipart_fields(request: Request, body: bytes) -> Fields:
    # The stream is consumed; hand the bytes we kept to the parser.
    async def replay() -> AsyncGenerator[bytes, None]:
        yield body

    try:
        form = await _Utf8MultiPartParser(request.headers, replay()).parse()
    except Exception as error:  # python-multipart raises several unrelated types
        detail = error.message if isinstance(error, MultiPartException) else error
        raise ApiError(400, f"Request body is not a valid multipart form: {detail}") from None
    pairs = [(key, value) for key, value in form.multi_items() if isinstance(value, str)]
    return _form_fields(pairs)


class FormFields(dict[str, Any]):
    """Fields that came as a form, where every value is text.

    Some fields are read differently there: a lone ``buttons=A`` is one label
    and ``button=2`` a position, where JSON has arrays and numbers to say so.
    """


def _form_fields(pairs: list[tuple[str, str]]) -> FormFields:
    """Fold PHP-style ``name[]`` and ``name[3]`` keys into lists.

    A name given in two styles (``buttons`` and ``buttons[]``, ``buttons[]``
    and ``buttons[0]``) or one index given twice has no one reading (PHP
    lets the last win, silently), so it is refused.
    """
    fields = FormFields()
    styles: dict[str, tuple[str, str]] = {}  # name: the style it came in first, and its key
    indexed: dict[str, dict[int, str]] = {}
    for key, value in pairs:
        match = _INDEXED.match(key)
        if match is None:
            _one_style(styles, key, "plain", key)
            previous = fields.get(key)
            if previous is None:
                fields[key] = value
            else:
                fields[key] = (
                    [*previous, value] if isinstance(previous, list) else [previous, value]
                )
            continue
        name, index = match["name"], match["index"]
        items = indexed.setdefault(name, {})
        if not index:
            _one_style(styles, name, "appended", f"{name}[]")
            items[len(items)] = value
            continue
        position = whole_number(index, _MAX_INDEX)
        if position is None:
            raise ValidationError(f"{name}[] indexes must be whole numbers up to {_MAX_INDEX}")
        _one_style(styles, name, "indexed", f"{name}[{position}]")
        if position in items:
            raise ValidationError(f"{name}[{position}] is given twice")
        items[position] = value
    for name, items in indexed.items():
        fields[name] = [items[position] for position in sorted(items)]
    return fields


def _one_style(styles: dict[str, tuple[str, str]], name: str, style: str, key: str) -> None:
    first_style, first_key = styles.setdefault(name, (style, key))
    if style != first_style:
        raise ValidationError(f"{name} is given both as {first_key} and as {key}; use one style")


#: The longest Idempotency-Key, as the column that keeps it.
MAX_IDEMPOTENCY_KEY = 255


def idempotency_key(request: Request) -> str | None:
    """The request's ``Idempotency-Key``, trimmed; None when it has none."""
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_IDEMPOTENCY_KEY:
        raise ValidationError(f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} characters")
    return key


def query_limit(request: Request, *, default: int = 50, maximum: int = 500) -> int:
    """The ``limit`` query parameter of a list, from 1 to ``maximum``."""
    limit = whole_number(request.query_params.get("limit", str(default)), maximum)
    if limit is None or limit < 1:
        raise ValidationError(f"limit must be a whole number from 1 to {maximum}")
    return limit


#: The largest paging cursor; cursors are row ids, far below it.
_MAX_CURSOR = 2**62


def query_cursor(request: Request) -> int | None:
    """The ``before`` query parameter of a list: the previous page's ``next_cursor``."""
    raw = request.query_params.get("before")
    if not raw:
        return None
    before = whole_number(raw, _MAX_CURSOR)
    if before is None:
        raise ValidationError("before must be a cursor from a previous answer")
    return before
