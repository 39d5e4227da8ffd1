"""Python clients for Kurir's HTTP API, sync and async, over httpx.

Both speak only HTTP: they work against any Kurir (or Alat WA) base URL.
Every refusal raises `KurirError`, carrying the server's message and status.
"""

from collections.abc import Sequence
from typing import Any, Self
from urllib.parse import quote

import httpx


class KurirError(Exception):
    """The server refused a request (or could not be reached: status_code 0)."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(f"{status_code}: {message}")
        self.status_code = status_code
        self.message = message


def _button_body(
    *,
    device: str,
    phone: str,
    header: str,
    message: str,
    footer: str,
    buttons: Sequence[str],
    schedule: str | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "device": device,
        "phone": phone,
        "message_header": header,
        "message": message,
        "message_footer": footer,
        "buttons": list(buttons),
    }
    if schedule is not None:
        body["schedule"] = schedule
    return body


def _headers(idempotency_key: str | None) -> dict[str, str]:
    return {"Idempotency-Key": idempotency_key} if idempotency_key else {}


def _result(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise KurirError(response.status_code, f"unexpected response: {response.text[:200]!r}")
    if response.is_error or body.get("status") != "ok":
        raise KurirError(response.status_code, str(body.get("message", "unknown error")))
    return body


def _message_path(message_id: str) -> str:
    # Quoted as one path segment: httpx resolves dot segments, so an unquoted
    # "../device/list" would call another endpoint and return its body as a message.
    return f"/message/{quote(message_id, safe='')}"


def _unreachable(base_url: httpx.URL, error: httpx.TransportError) -> KurirError:
    # Named, since a wrong URL (or port) is the usual cause.
    return KurirError(0, f"cannot reach the server at {str(base_url).rstrip('/')}: {error}")


class Client:
    """A blocking client: ``Client(base_url, api_key).send_button(...)``."""

    def __init__(self, base_url: str, api_key: str, *, timeout: float = 10.0) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"), headers={"Authorization": api_key}, timeout=timeout
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            return _result(self._http.request(method, path, **kwargs))
        except httpx.TransportError as error:
            raise _unreachable(self._http.base_url, error) from error

    def send_button(
        self,
        *,
        device: str,
        phone: str,
        header: str,
        message: str,
        footer: str,
        buttons: Sequence[str],
        schedule: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Send (or schedule) a button message; returns Alat WA's success body."""
        body = _button_body(
            device=device,
            phone=phone,
            header=header,
            message=message,
            footer=footer,
            buttons=buttons,
            schedule=schedule,
        )
        return self._call("POST", "/send/button", json=body, headers=_headers(idempotency_key))

    def get_message(self, message_id: str) -> dict[str, Any]:
        """The message and its life so far (the ``data`` of GET /message/{id})."""
        data: dict[str, Any] = self._call("GET", _message_path(message_id))["data"]
        return data

    def cancel_message(self, message_id: str) -> dict[str, Any]:
        return self._call("DELETE", _message_path(message_id))

    def list_devices(self) -> list[dict[str, Any]]:
        devices: list[dict[str, Any]] = self._call("GET", "/device/list")["data"]
        return devices


class AsyncClient:
    """The same API for asyncio: ``async with AsyncClient(url, key) as kurir: ...``."""

    def __init__(self, base_url: str, api_key: str, *, timeout: float = 10.0) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), headers={"Authorization": api_key}, timeout=timeout
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            return _result(await self._http.request(method, path, **kwargs))
        except httpx.TransportError as error:
            raise _unreachable(self._http.base_url, error) from error

    async def send_button(
        self,
        *,
        device: str,
        phone: str,
        header: str,
        message: str,
        footer: str,
        buttons: Sequence[str],
        schedule: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        body = _button_body(
            device=device,
            phone=phone,
            header=header,
            message=message,
            footer=footer,
            buttons=buttons,
            schedule=schedule,
        )
        return await self._call(
            "POST", "/send/button", json=body, headers=_headers(idempotency_key)
        )

    async def get_message(self, message_id: str) -> dict[str, Any]:
        data: dict[str, Any] = (await self._call("GET", _message_path(message_id)))["data"]
        return data

    async def cancel_message(self, message_id: str) -> dict[str, Any]:
        return await self._call("DELETE", _message_path(message_id))

    async def list_devices(self) -> list[dict[str, Any]]:
        devices: list[dict[str, Any]] = (await self._call("GET", "/device/list"))["data"]
        return devices
