"""Every failure, in the shape Alat WA clients read: ``{"status":"error","message":…}``."""

import logging
import secrets

import msgspec
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from kurir.domain.errors import ValidationError
from kurir.store import DATABASE_ERRORS, Overloaded

log = logging.getLogger("kurir.api")


class ErrorBody(msgspec.Struct, kw_only=True):
    status: str = "error"
    message: str


class ApiError(Exception):
    """A refusal with its HTTP status; the message names what is wrong."""

    def __init__(self, status_code: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.headers = headers


_ENCODER = msgspec.json.Encoder()


def error_response(
    status_code: int, message: str, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        _ENCODER.encode(ErrorBody(message=message)),
        status_code=status_code,
        headers=headers,
        media_type="application/json",
    )


async def _api_error(_request: Request, error: Exception) -> Response:
    assert isinstance(error, ApiError)
    return error_response(error.status_code, error.message, error.headers)


async def _validation_error(_request: Request, error: Exception) -> Response:
    assert isinstance(error, ValidationError)
    return error_response(422, error.message)


async def _http_error(_request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    messages = {404: "Not found", 405: "Method not allowed"}
    return error_response(
        error.status_code,
        messages.get(error.status_code, str(error.detail)),
        dict(error.headers) if error.headers else None,
    )


async def _overloaded(_request: Request, _error: Exception) -> Response:
    return error_response(
        429, "Too many requests are waiting to be stored; retry shortly", {"Retry-After": "1"}
    )


async def _database_error(_request: Request, error: Exception) -> Response:
    log.error("database error: %s", error.__class__.__name__, exc_info=error)
    return error_response(503, "The database is unavailable; retry shortly", {"Retry-After": "1"})


async def internal_error(request: Request, error: Exception) -> Response:
    """A 500 for what no other handler takes: logged once, under an id the client gets too.

    The id ties a client's report to its one log entry; it is made here, only
    for a 500, so that no other request pays for it.
    """
    request_id = secrets.token_hex(8)
    log.error(
        "unexpected error, request %s: %s %r",
        request_id,
        request.method,
        request.url.path[:200],
        exc_info=error,
        extra={"request_id": request_id},
    )
    return error_response(
        500, f"Internal error (request id {request_id})", {"X-Request-Id": request_id}
    )


async def _client_gone(_request: Request, _error: Exception) -> Response:
    # The client hung up mid-request: nobody will read an answer, and it is
    # no fault of ours to log.
    return error_response(400, "Client disconnected")


#: The handlers of expected errors; anything else is an `internal_error`.
EXCEPTION_HANDLERS = {
    ApiError: _api_error,
    ClientDisconnect: _client_gone,
    ValidationError: _validation_error,
    HTTPException: _http_error,
    Overloaded: _overloaded,
    **dict.fromkeys(DATABASE_ERRORS, _database_error),
    OSError: _database_error,
}


async def error_response_for(request: Request, error: Exception) -> Response:
    """The response the handler registered for ``error``'s class (or nearest base)."""
    for cls in type(error).__mro__:
        handler = EXCEPTION_HANDLERS.get(cls)
        if handler is not None:
            return await handler(request, error)
    return await internal_error(request, error)
