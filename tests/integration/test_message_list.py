"""The filtered message list (dashboard and GET /messages) on both databases."""

import msgspec
import pytest

from kurir.domain.content import MessageKind, decode_content, encode_content, kind_of
from kurir.store import Store, lifecycle
from kurir.store.message_list import MessageFilter, filtered_messages
from tests.support.store_data import T0, add_account, new_message

TEXT = '{"type":"text","body":"Halo"}'


async def _accept(store: Store, account_id: int, device_id: int, **changes: object) -> str:
    message = msgspec.structs.replace(new_message(account_id, device_id), **changes)
    await store.accept(message)
    return message.message_id


async def _ids(store: Store, account_id: int, where: MessageFilter, **paging: int) -> list[str]:
    found = await store.read(
        filtered_messages,
        account_id=account_id,
        where=where,
        limit=paging.pop("limit", 50),
        **paging,
    )
    return [view.message_id for _, view in found]


async def test_filters_narrow_the_account_s_messages_newest_first(store: Store) -> None:
    account_id, (first, second) = await add_account(store, devices=2)
    other_account, (other_device,) = await add_account(store)
    button = await _accept(store, account_id, first)
    text = await _accept(store, account_id, first, content=TEXT, created_at=T0 + 1000)
    elsewhere = await _accept(store, account_id, second, recipient="628122220000")
    await _accept(store, other_account, other_device)
    await store.write(lifecycle.cancel_message, text, account_id=account_id, now=T0 + 2000)

    assert await _ids(store, account_id, MessageFilter()) == [elsewhere, text, button]
    assert await _ids(store, account_id, MessageFilter(device_id=first)) == [text, button]
    assert await _ids(store, account_id, MessageFilter(recipient="628122220000")) == [elsewhere]
    assert await _ids(store, account_id, MessageFilter(status="cancelled")) == [text]
    assert await _ids(store, account_id, MessageFilter(kind=MessageKind.TEXT)) == [text]
    assert await _ids(store, account_id, MessageFilter(kind=MessageKind.BUTTON)) == [
        elsewhere,
        button,
    ]
    since = MessageFilter(created_from=T0 + 1000)
    assert await _ids(store, account_id, since) == [text]
    assert await _ids(store, account_id, MessageFilter(created_until=T0 + 1000)) == [
        elsewhere,
        button,
    ]
    # Another account's device as a filter finds nothing of theirs.
    assert await _ids(store, account_id, MessageFilter(device_id=other_device)) == []


async def test_pages_follow_the_cursor_without_gaps_or_repeats(store: Store) -> None:
    account_id, (device_id,) = await add_account(store)
    accepted = [await _accept(store, account_id, device_id) for _ in range(7)]
    seen: list[str] = []
    before = None
    while True:
        found = await store.read(
            filtered_messages,
            account_id=account_id,
            where=MessageFilter(device_id=device_id),
            limit=3,
            before=before,
        )
        seen += [view.message_id for _, view in found]
        if len(found) < 3:
            break
        before = found[-1][0]
    assert seen == accepted[::-1]


@pytest.mark.parametrize("kind", list(MessageKind))
def test_every_kind_is_stored_beginning_with_its_tag(kind: MessageKind) -> None:
    # The kind filter reads the stored content's first bytes (see message_list).
    samples = {
        MessageKind.TEXT: TEXT,
        MessageKind.MEDIA: '{"type":"media","url":"https://example.com/a.png","media_type":null,'
        '"caption":null,"filename":null}',
        MessageKind.BUTTON: new_message(1, 1).content,
        MessageKind.TEMPLATE: '{"type":"template","name":"n","language":"id","components":[]}',
    }
    content = decode_content(samples[kind])
    assert kind_of(content) == kind
    assert encode_content(content).startswith(f'{{"type":"{kind}",')
