"""A broadcast's messages built from its request: numbers read, opt-outs left out, texts spun.

Checking a hundred thousand numbers takes seconds of CPU (`phonenumbers`
parses each), so the reading and the rendering run on a worker thread and
the event loop goes on serving other requests meanwhile. The lookups in the
database (opt-outs, contacts' fields) run between them, on the loop.
"""

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence

import msgspec
from starlette.responses import Response

from kurir.api.broadcast_requests import BroadcastReceiver
from kurir.api.broadcast_types import InvalidReceiver, InvalidReceiversBody
from kurir.domain.broadcast import stored_media_url
from kurir.domain.content import (
    MediaMessage,
    MediaType,
    MessageKind,
    TextMessage,
    TransportLimits,
    encode_content,
)
from kurir.domain.errors import ValidationError
from kurir.domain.inline_media import InlineMedia
from kurir.domain.receivers import (
    Invalid,
    ReadPhones,
    Receiver,
    Recipient,
    read_phones,
    render_texts,
)
from kurir.domain.spintax import PLACEHOLDERS, Template
from kurir.store.broadcast_records import BroadcastMessage, Contact

_ENCODER = msgspec.json.Encoder()
#: Faults named in a 422's message; the ``invalid`` list has them all.
_NAMED = 10


class BuildInput(msgspec.Struct, frozen=True, kw_only=True):
    account_id: int
    public_id: str
    kind: MessageKind
    media: InlineMedia | None
    #: The text (or caption) of every recipient without one of their own.
    default: Template | None
    receivers: Sequence[BroadcastReceiver]
    #: A group's contacts, instead of ``receivers``.
    group: Sequence[Contact] | None
    international_only: bool
    region: str
    limits: TransportLimits


class Built(msgspec.Struct, frozen=True):
    messages: list[BroadcastMessage]
    #: In the receivers' order.
    invalid: list[Invalid]
    duplicates: int
    opted_out: int


async def build_messages(
    given: BuildInput,
    *,
    opted_out: Callable[[list[str]], Awaitable[set[str]]],
    contacts_of: Callable[[list[str]], Awaitable[dict[str, Contact]]],
    rng: random.Random,
) -> Built:
    """Every recipient's message, with the receivers at fault and those left out."""
    media = given.media
    captioned = given.default is not None or any(item.message for item in given.receivers)
    if media is not None and media.media_type == MediaType.AUDIO and captioned:
        raise ValidationError("caption: WhatsApp shows no caption on audio messages")
    if given.group is not None:
        read = ReadPhones(
            [Recipient(n, c.phone, None, c.fields(), c.phone) for n, c in enumerate(given.group)],
            [],
            0,
        )
        stopped = {contact.phone for contact in given.group if contact.opted_out}
    else:
        receivers = [
            Receiver(n, str(item.phone), item.message, _fields(item))
            for n, item in enumerate(given.receivers)
        ]
        read = await asyncio.to_thread(
            read_phones,
            receivers,
            region=given.region,
            international_only=given.international_only,
        )
        del receivers
        stopped = await opted_out([recipient.phone for recipient in read.recipients])
    recipients = [r for r in read.recipients if r.phone not in stopped]
    contact_fields: dict[str, dict[str, str]] = {}
    own_templates = any(r.message is not None and "{" in r.message for r in recipients)
    if given.group is None and ((given.default and given.default.placeholders) or own_templates):
        found = await contacts_of([recipient.phone for recipient in recipients])
        contact_fields = {phone: contact.fields() for phone, contact in found.items()}
    messages, invalid = await asyncio.to_thread(_render, given, recipients, contact_fields, rng)
    return Built(
        messages,
        sorted([*read.invalid, *invalid], key=lambda fault: fault.index),
        read.duplicates,
        len(read.recipients) - len(recipients),
    )


def _fields(item: BroadcastReceiver) -> dict[str, str] | None:
    given = {name: value for name in PLACEHOLDERS if (value := getattr(item, name)) is not None}
    return given or None


def _render(
    given: BuildInput,
    recipients: Sequence[Recipient],
    contact_fields: dict[str, dict[str, str]],
    rng: random.Random,
) -> tuple[list[BroadcastMessage], list[Invalid]]:
    media = given.media
    rendered = render_texts(
        recipients,
        default=given.default,
        field="caption" if media is not None else "message",
        max_length=given.limits.max_caption if media is not None else given.limits.max_text,
        required=media is None,
        contact_fields=contact_fields,
        rng=rng,
    )
    messages: list[BroadcastMessage] = []
    if media is None:
        for phone, text in rendered.texts:
            assert text is not None  # a text is required of a text broadcast
            messages.append(BroadcastMessage(phone, encode_content(TextMessage(body=text))))
    else:
        url = stored_media_url(given.public_id)
        for phone, text in rendered.texts:
            content = MediaMessage(url=url, media_type=media.media_type, caption=text)
            messages.append(BroadcastMessage(phone, encode_content(content)))
    return messages, rendered.invalid


def invalid_response(invalid: Sequence[Invalid], *, item: str) -> Response:
    """A 422 naming the first faults in its message and listing every one."""
    named = "; ".join(
        f"{item}[{fault.index}] ({fault.phone[:32]!r}): {fault.reason}"
        for fault in invalid[:_NAMED]
    )
    more = f"; and {len(invalid) - _NAMED} more" if len(invalid) > _NAMED else ""
    count = f"{len(invalid)} {item}s are" if len(invalid) > 1 else f"1 {item} is"
    body = InvalidReceiversBody(
        message=f"{count} invalid: {named}{more}. Fix them, or send skip_invalid: true "
        "to leave them out",
        invalid=[InvalidReceiver(fault.index, fault.phone, fault.reason) for fault in invalid],
    )
    return Response(_ENCODER.encode(body), status_code=422, media_type="application/json")
