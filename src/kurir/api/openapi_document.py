"""The OpenAPI 3.1 document built from a table of operations and the structs they name.

`kurir.api.openapi` holds the table; this module turns it into the document:
schemas from msgspec, one request and response per operation, and every
error an operation gives with an example of its message.
"""

import re
from collections.abc import Iterable, Sequence
from importlib.metadata import version
from typing import Any

import msgspec

from kurir.api.errors import ErrorBody
from kurir.api.operation import Operation, Parameter

_REF = "#/components/schemas/{name}"
_SECURITY_SCHEME = "apiKey"
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")

_STATUS_DESCRIPTIONS = {
    400: "The body cannot be read.",
    401: "The key is missing or wrong.",
    403: "The signature or token is wrong.",
    404: "Not found, or not yours.",
    409: "Conflicts with what is already stored.",
    413: "The body is too large.",
    415: "The body's content type is not one Kurir reads.",
    422: "A field breaks a rule; the message names it.",
    429: "Too many requests; retry after the seconds in Retry-After.",
    503: "The database is unavailable; retry after the seconds in Retry-After.",
    504: "The worker holding the device did not answer in time; look again later.",
}
_STATUS_HEADERS = {
    401: {"WWW-Authenticate": "Bearer"},
    429: {"Retry-After": "1"},
    503: {"Retry-After": "1"},
}

_DESCRIPTION = """\
A self-hosted WhatsApp gateway whose `POST /send/button` is Alat WA's: code written \
for that API works unchanged against Kurir.

Every request but `/healthz` and the documentation carries an API key in the \
`Authorization` header, bare or as `Bearer <key>`. Bodies may be JSON or forms as \
PHP sends them (urlencoded or multipart, arrays as `name[]=A&name[]=B`).

Every failure has one shape, `{"status":"error","message":"…"}`, with the message \
naming the field at fault; nothing a client sends causes a 500, and a refused request \
stores nothing."""


def document_of(
    operations: Sequence[Operation], request_types: Iterable[type[msgspec.Struct]]
) -> dict[str, Any]:
    """The whole document of ``operations``, as a JSON-ready mapping.

    ``request_types`` are described besides the operations' own bodies.
    """
    requests: set[type[msgspec.Struct]] = set(request_types)
    requests.update(op.request for op in operations if op.request is not None)
    structs: set[type[msgspec.Struct]] = {*requests, ErrorBody}
    structs.update(op.response for op in operations if op.response is not None)
    ordered = sorted(structs, key=lambda struct: struct.__name__)
    _, schemas = msgspec.json.schema_components(ordered, ref_template=_REF)
    # A field with a default is optional to send, but Kurir always answers with
    # it, except in a struct that leaves out what it does not have.
    always_whole = {
        struct.__name__
        for struct in ordered
        if struct not in requests and not struct.__struct_config__.omit_defaults
    }
    for name, schema in schemas.items():
        if name in always_whole:
            schema["required"] = list(schema["properties"])
    paths: dict[str, dict[str, Any]] = {}
    for operation in operations:
        paths.setdefault(operation.path, {})[operation.method.lower()] = _operation(
            operation, schemas
        )
    return {
        "openapi": "3.1.0",
        "info": {"title": "Kurir", "version": version("kurir"), "description": _DESCRIPTION},
        "tags": [{"name": name} for name in dict.fromkeys(op.tag for op in operations)],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                _SECURITY_SCHEME: {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "Your API key, bare (Alat WA's style) or as `Bearer <key>`. "
                    "`kurir keys create` makes one; the first start prints one.",
                }
            },
        },
    }


def _operation(operation: Operation, schemas: dict[str, Any]) -> dict[str, Any]:
    document: dict[str, Any] = {
        "operationId": operation.operation_id,
        "tags": [operation.tag],
        "summary": operation.summary,
        "description": operation.description,
        "security": [{_SECURITY_SCHEME: []}] if operation.authenticated else [],
    }
    if operation.parameters:
        document["parameters"] = [_parameter(parameter) for parameter in operation.parameters]
    if operation.request is not None:
        reference = {"$ref": _REF.format(name=operation.request.__name__)}
        example = operation.request_example or _required_example(
            schemas[operation.request.__name__]
        )
        document["requestBody"] = {
            "required": True,
            "description": "JSON, or the same fields as a form.",
            "content": {
                "application/json": {"schema": reference, "example": example},
                **{media_type: {"schema": reference} for media_type in _FORMS},
            },
        }
    if operation.response is not None:
        schema = {"$ref": _REF.format(name=operation.response.__name__)}
    else:
        json = operation.response_media_type == "application/json"
        schema = {"type": "object" if json else "string"}
    success = {"schema": schema, "example": operation.response_example}
    responses: dict[str, Any] = {
        "200": {"description": "Done.", "content": {operation.response_media_type: success}}
    }
    for status in sorted({problem.status for problem in operation.errors}):
        messages = [problem.message for problem in operation.errors if problem.status == status]
        responses[str(status)] = _error_response(status, messages)
    document["responses"] = responses
    return document


def _parameter(parameter: Parameter) -> dict[str, Any]:
    return {
        "name": parameter.name,
        "in": parameter.location,
        "required": parameter.required,
        "description": parameter.description,
        "schema": parameter.schema,
        "example": parameter.example,
    }


def _error_response(status: int, messages: list[str]) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": _STATUS_DESCRIPTIONS[status],
        "content": {
            "application/json": {
                "schema": {"$ref": _REF.format(name=ErrorBody.__name__)},
                "examples": {
                    _example_name(message): {
                        "summary": message,
                        "value": {"status": "error", "message": message},
                    }
                    for message in messages
                },
            }
        },
    }
    headers = _STATUS_HEADERS.get(status)
    if headers is not None:
        response["headers"] = {
            name: {"required": True, "schema": {"type": "string"}, "example": value}
            for name, value in headers.items()
        }
    return response


def _example_name(message: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", message.lower()).strip("-")[:60]


def _required_example(schema: dict[str, Any]) -> dict[str, Any]:
    """A body of the first example of each required field."""
    properties: dict[str, Any] = schema["properties"]
    return {name: properties[name]["examples"][0] for name in schema["required"]}
