"""Meta's Graph API for one device: sending a message, and reading the number's profile.

``base_url`` is the operator's config (Meta's own host in production, a
stand-in in tests), not a customer's URL, so requests go out directly rather
than through `kurir.egress`: its refusal of private addresses guards against
customers, and the operator may point a device at a proxy of their own.
Proxies from the environment are not used (the token goes to the host the
config names, and to no other), and redirects are not followed.
"""

from types import TracebackType
from typing import Any, Self

import httpx
import msgspec

from kurir.domain.devices import DeviceProfile
from kurir.transports.base import PermanentSendError, TransientSendError
from kurir.transports.cloud.config import CloudConfig
from kurir.transports.cloud.errors import send_error

_PROFILE_FIELDS = "display_phone_number,verified_name,quality_rating"
_CONNECT_TIMEOUT_S = 10.0


class _Sent(msgspec.Struct):
    id: str


class _SendAnswer(msgspec.Struct):
    messages: list[_Sent]


class _PhoneNumber(msgspec.Struct):
    display_phone_number: str | None = None
    verified_name: str | None = None
    quality_rating: str | None = None


_SEND_ANSWER = msgspec.json.Decoder(_SendAnswer)
_PHONE_NUMBER = msgspec.json.Decoder(_PhoneNumber)
_ENCODER = msgspec.json.Encoder()


class GraphClient:
    """A connection pool to the Graph API with the device's token on every request."""

    def __init__(self, config: CloudConfig, *, timeout_s: float = 30.0) -> None:
        self._config = config
        self._client = httpx.AsyncClient(
            headers={
                "Authorization": f"Bearer {config.access_token}",
                "User-Agent": "kurir",
            },
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, _CONNECT_TIMEOUT_S)),
            trust_env=False,
            follow_redirects=False,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(self, payload: dict[str, Any]) -> str:
        """POST a message; Meta's id for it (``wamid.…``), or a send error saying why not."""
        response = await self._request(
            "POST",
            self._config.messages_url,
            content=_ENCODER.encode(payload),
            headers={"Content-Type": "application/json"},
        )
        if not response.is_success:
            raise send_error(
                response.status_code, response.content, response.headers.get("retry-after")
            )
        try:
            return _SEND_ANSWER.decode(response.content).messages[0].id
        except (msgspec.DecodeError, IndexError):
            # Meta took it but said nothing usable: a resend could deliver it twice.
            raise PermanentSendError(
                f"the Graph API answered {response.status_code} without a message id"
            ) from None

    async def profile(self) -> DeviceProfile:
        """What Meta says of the number; a send error when it refuses or cannot be asked."""
        response = await self._request(
            "GET", self._config.phone_number_url, params={"fields": _PROFILE_FIELDS}
        )
        if not response.is_success:
            raise send_error(
                response.status_code, response.content, response.headers.get("retry-after")
            )
        try:
            found = _PHONE_NUMBER.decode(response.content)
        except msgspec.DecodeError:
            raise PermanentSendError(
                "the Graph API described the number in no known shape"
            ) from None
        return DeviceProfile(
            display_phone=found.display_phone_number,
            verified_name=found.verified_name,
            quality_rating=found.quality_rating,
        )

    async def _request(self, method: str, url: str, **options: Any) -> httpx.Response:
        try:
            return await self._client.request(method, url, **options)
        except httpx.TimeoutException as error:
            raise TransientSendError(
                f"no answer from the Graph API: {type(error).__name__}"
            ) from None
        except httpx.TransportError as error:
            # httpx's own words name the failure (refused, reset, name unknown), never the token.
            reason = str(error) or type(error).__name__
            raise TransientSendError(f"cannot reach the Graph API: {reason}") from None
