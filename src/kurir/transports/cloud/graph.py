"""Meta's Graph API for one device: sending a message, and reading the number's profile.

``base_url`` is part of a device's config (Meta's own host in production, a
stand-in on this machine in tests). Requests go through a `kurir.egress` of
their own: one to a host of this machine (which the config allows only for
a stand-in) may reach it; any other is refused a private or internal address,
as a customer's URL is, so a device's config cannot make Kurir reach into
the operator's network. Egress takes no proxies from the environment (the
token goes to the host the config names, and to no other) and follows no
redirects here. It is Kurir's own HTTP/1.1, several times cheaper per request than an
httpx client, which matters at Meta's 80 messages/s per number.
"""

from types import TracebackType
from typing import Any, Self
from urllib.parse import urlencode

import msgspec

from kurir.domain.devices import DeviceProfile
from kurir.egress import Egress, EgressTimeout, PermanentEgressError, Posted, TransientEgressError
from kurir.transports.base import PermanentSendError, TransientSendError
from kurir.transports.cloud.config import CloudConfig
from kurir.transports.cloud.errors import send_error

_PROFILE_FIELDS = "display_phone_number,verified_name,quality_rating"
_CONNECT_TIMEOUT_S = 10.0
# Meta's answers are a few hundred bytes; more is cut (and then not valid JSON).
_KEEP_BYTES = 1024 * 1024


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
        self._egress = Egress(allow_private=config.is_local_stand_in)
        self._headers = {
            "Authorization": f"Bearer {config.access_token}",
            "User-Agent": "kurir",
        }
        self._timeout_s = timeout_s

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
        await self._egress.aclose()

    async def send(self, payload: dict[str, Any]) -> str:
        """POST a message; Meta's id for it (``wamid.…``), or a send error saying why not."""
        answer = await self._request(
            "POST", self._config.messages_url, _ENCODER.encode(payload), "application/json"
        )
        try:
            return _SEND_ANSWER.decode(answer.body_start).messages[0].id
        except (msgspec.DecodeError, IndexError):
            # Meta took it but said nothing usable: a resend could deliver it twice.
            raise PermanentSendError(
                f"the Graph API answered {answer.status} without a message id"
            ) from None

    async def profile(self) -> DeviceProfile:
        """What Meta says of the number; a send error when it refuses or cannot be asked."""
        query = urlencode({"fields": _PROFILE_FIELDS})
        answer = await self._request("GET", f"{self._config.phone_number_url}?{query}")
        try:
            found = _PHONE_NUMBER.decode(answer.body_start)
        except msgspec.DecodeError:
            raise PermanentSendError(
                "the Graph API described the number in no known shape"
            ) from None
        return DeviceProfile(
            display_phone=found.display_phone_number,
            verified_name=found.verified_name,
            quality_rating=found.quality_rating,
        )

    async def _request(
        self, method: str, url: str, body: bytes | None = None, content_type: str | None = None
    ) -> Posted:
        """A 2xx answer, or the send error the answer or the failure to get one means."""
        headers = self._headers
        if content_type is not None:
            headers = {**headers, "Content-Type": content_type}
        try:
            answer = await self._egress.request(
                method,
                url,
                body=body,
                headers=headers,
                keep_bytes=_KEEP_BYTES,
                connect_timeout=min(self._timeout_s, _CONNECT_TIMEOUT_S),
                total_timeout=self._timeout_s,
            )
        except EgressTimeout as error:
            raise TransientSendError(f"no answer from the Graph API: {error.message}") from None
        except TransientEgressError as error:
            # Egress names the failure (refused, reset, name unknown) and the URL, never the token.
            raise TransientSendError(f"cannot reach the Graph API: {error.message}") from None
        except PermanentEgressError as error:
            raise PermanentSendError(f"cannot ask the Graph API: {error.message}") from None
        if not 200 <= answer.status < 300:
            raise send_error(answer.status, answer.body_start, answer.headers.get("retry-after"))
        return answer
