"""How the API document describes an operation, and the errors many operations share.

openapi.py builds the document from these; the operations of each area of
the API are tables of them (the webhooks' in openapi_webhooks.py).
"""

from typing import Any, Literal

import msgspec


class Problem(msgspec.Struct, frozen=True):
    """An error response an operation can give, with a message it sends."""

    status: int
    message: str


class Parameter(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    location: Literal["path", "query", "header"]
    description: str
    schema: dict[str, Any]
    example: Any
    required: bool = False


class Operation(msgspec.Struct, frozen=True, kw_only=True):
    """One endpoint, as the document describes it."""

    method: str
    path: str
    operation_id: str
    tag: str
    summary: str
    description: str
    #: The body's struct; None for an operation without a body.
    request: type[msgspec.Struct] | None = None
    #: The body's example; by default the first example of each required field.
    request_example: dict[str, Any] | None = None
    #: The success body's struct; None for a body that is not JSON of Kurir's own.
    response: type[msgspec.Struct] | None
    response_example: Any
    response_media_type: str = "application/json"
    parameters: tuple[Parameter, ...] = ()
    errors: tuple[Problem, ...] = ()
    authenticated: bool = True


UNAUTHORIZED = Problem(401, "Unauthorized")
UNAVAILABLE = Problem(503, "The database is unavailable; retry shortly")
#: What reading any request body can refuse.
BODY = (
    Problem(400, "Request body is not valid JSON: Input data was truncated"),
    Problem(400, "Request body must be a JSON object"),
    Problem(413, "Request body is larger than 65536 bytes"),
    Problem(
        415,
        "Content-Type must be application/json, application/x-www-form-urlencoded "
        "or multipart/form-data",
    ),
)


def query_parameter(
    name: str, description: str, example: Any, schema: dict[str, Any] | None = None
) -> Parameter:
    """A query parameter: a string unless ``schema`` says otherwise."""
    return Parameter(
        name=name,
        location="query",
        description=description,
        schema={"type": "string"} if schema is None else schema,
        example=example,
    )


def before_cursor(example: str) -> Parameter:
    """A list's ``before``: the cursor of the page before, as its ``next_cursor`` gave it."""
    return query_parameter(
        "before",
        "The `next_cursor` of the previous page: list what came before it.",
        example,
        {"type": "string", "minLength": 1},
    )


#: The ``limit`` of a list, and its refusal.
LIMIT = Parameter(
    name="limit",
    location="query",
    description="How many to list.",
    schema={"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
    example=20,
)
BAD_LIMIT = Problem(422, "limit must be a whole number from 1 to 500")
