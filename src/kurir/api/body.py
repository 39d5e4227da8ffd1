"""Reading request bodies as the clients of gateway APIs send them.

JSON is the documented form. PHP clients often post forms instead, either
``buttons[]=A&buttons[]=B`` or a ``buttons`` field holding a JSON array, and
both urlencoded and multipart; all of them become the same field mapping.
"""

import re
from typing import Any
from urllib.parse import parse_qsl

import msgspec
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
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
        return _form_fields(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
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


async def _multipart_fields(request: Request, body: bytes) -> Fields:
    # The stream is consumed; hand the bytes we kept back to Starlette's parser.
    async def replay() -> Any:
        return {"type": "http.request", "body": body, "more_body": False}

    copy = Request(request.scope, replay)
    try:
        form = await copy.form()
    except Exception as error:  # python-multipart raises several unrelated types
        # Starlette wraps parser errors in an HTTPException, whose str() is
        # "400: <detail>"; the client needs only the detail.
        detail = error.detail if isinstance(error, HTTPException) else error
        raise ApiError(400, f"Request body is not a valid multipart form: {detail}") from None
    pairs = [(key, value) for key, value in form.multi_items() if not isinstance(value, UploadFile)]
    return _form_fields([(key, str(value)) for key, value in pairs])


def _form_fields(pairs: list[tuple[str, str]]) -> Fields:
    """Fold PHP-style ``name[]`` and ``name[3]`` keys into lists."""
    fields: Fields = {}
    indexed: dict[str, list[tuple[int, str]]] = {}
    for key, value in pairs:
        match = _INDEXED.match(key)
        if match is not None:
            name, index = match["name"], match["index"]
            position = len(indexed.get(name, [])) if not index else whole_number(index, _MAX_INDEX)
            if position is None:
                raise ValidationError(f"{name}[] indexes must be whole numbers up to {_MAX_INDEX}")
            indexed.setdefault(name, []).append((position, value))
        elif key in fields:
            previous = fields[key]
            fields[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            fields[key] = value
    for name, items in indexed.items():
        fields[name] = [value for _, value in sorted(items, key=lambda item: item[0])]
    return fields
