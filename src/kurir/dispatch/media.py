"""A media message's file, fetched by the worker when it sends the message.

Fetching at send time (not at accept time) is what Alat WA's users expect: a
file changed between accept and send goes out as it is then. Every fetch goes
through `kurir.egress`, so the address connected to is checked (a DNS answer
may change between accept and send), redirects are checked hop by hop, and
the body is capped at the media type's size limit while it streams.
"""

import httpx

from kurir.domain.content import MediaMessage, TransportLimits, media_type_for
from kurir.domain.errors import ValidationError
from kurir.egress import Egress, PermanentEgressError, TransientEgressError, redact
from kurir.transports.base import MediaFile, PermanentSendError, TransientSendError


async def fetch_media(
    egress: Egress,
    content: MediaMessage,
    limits: TransportLimits,
    *,
    connect_timeout: float,
    total_timeout: float,
) -> MediaFile:
    """The file of ``content``, or a send error saying why not.

    A 404 or any other 4xx, a file of the wrong type, or one over the size
    limit fail the message: trying again would fetch the same. A timeout, a
    connection failure or a 5xx may pass, so the message is retried.
    """
    shown = redact(httpx.URL(content.url))
    try:
        fetched = await egress.fetch(
            content.url,
            max_bytes=limits.max_media_bytes(content.media_type),
            follow_redirects=True,
            connect_timeout=connect_timeout,
            total_timeout=total_timeout,
        )
    except PermanentEgressError as error:
        raise PermanentSendError(f"media: {error}") from None
    except TransientEgressError as error:
        raise TransientSendError(f"media: {error}") from None
    if fetched.status >= 500 or fetched.status in (408, 429):
        raise TransientSendError(f"media: {shown} answered {fetched.status}")
    if not 200 <= fetched.status < 300:
        raise PermanentSendError(f"media: {shown} answered {fetched.status}")
    try:
        media_type = media_type_for(fetched.content_type, content.media_type)
    except ValidationError as error:
        raise PermanentSendError(f"media: {error.message}") from None
    if len(fetched.body) > limits.max_media_bytes(media_type):
        raise PermanentSendError(
            f"media: the {media_type} is {len(fetched.body)} bytes; "
            f"WhatsApp takes at most {limits.max_media_bytes(media_type)}"
        )
    if content.caption is not None and media_type == "audio":
        raise PermanentSendError("media: WhatsApp shows no caption on audio messages")
    return MediaFile(
        media_type=media_type,
        content_type=fetched.content_type.split(";")[0].strip().lower(),
        data=fetched.body,
        url=fetched.final_url,
    )


def media_timed_out(content: MediaMessage, seconds: float) -> TransientSendError:
    """The send timeout ran out while the file of ``content`` was being fetched.

    It is the same deadline as the fetch's own total timeout, and the outer
    one of the two, so it is the one that fires: this names it in the fetch's words.
    """
    return TransientSendError(
        f"media: {redact(httpx.URL(content.url))}: no complete answer within {seconds:g} s"
    )
