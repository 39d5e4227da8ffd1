"""Contacts in the store, on real databases: groups, duplicates, paging, removal, opt-outs."""

from kurir.store import Store
from kurir.store import contacts as store_contacts
from kurir.store.broadcast_records import ContactsStored, NewContact
from tests.support.store_data import T0, add_account


async def test_contacts_by_group_with_duplicates_kept_or_updated(store: Store) -> None:
    account_id, _ = await add_account(store)
    other_account, _ = await add_account(store)

    async def add(group: str, *new: NewContact, update: bool = False) -> ContactsStored:
        return await store.write(
            store_contacts.store_contacts,
            account_id=account_id,
            group=group,
            new=list(new),
            update_existing=update,
            now=T0,
        )

    budi = NewContact(phone="628111111111", name="Budi", opt1="Jakarta")
    sari = NewContact(phone="628122222222", name="Sari")
    assert await add("vip", budi, sari) == ContactsStored(created=2, updated=0, duplicates=0)
    renamed = NewContact(phone="628111111111", name="Pak Budi")
    assert await add("vip", renamed) == ContactsStored(created=0, updated=0, duplicates=1)
    assert await add("vip", renamed, update=True) == ContactsStored(
        created=0, updated=1, duplicates=0
    )
    assert await add("", budi) == ContactsStored(created=1, updated=0, duplicates=0)

    vip = await store.read(
        store_contacts.list_contacts, account_id=account_id, group="vip", limit=1
    )
    assert [(c.phone, c.name) for c in vip] == [("628122222222", "Sari")]
    older = await store.read(
        store_contacts.list_contacts, account_id=account_id, group="vip", limit=5, before=vip[0].id
    )
    assert [(c.phone, c.name, c.opt1) for c in older] == [("628111111111", "Pak Budi", "")]
    everyone = await store.read(
        store_contacts.list_contacts, account_id=account_id, group=None, limit=50
    )
    assert len(everyone) == 3
    theirs = await store.read(
        store_contacts.list_contacts, account_id=other_account, group=None, limit=5
    )
    assert theirs == []

    group = await store.read(store_contacts.group_contacts, account_id=account_id, group="vip")
    assert [c.phone for c in group] == ["628111111111", "628122222222"]  # in the order added

    await store.write(
        lambda c: store_contacts.opt_out_if_stop(c, account_id, "628122222222", "STOP", now=T0)
    )
    found = await store.read(
        store_contacts.contacts_by_phone,
        account_id=account_id,
        phones=["628122222222", "628199999999"],
    )
    assert list(found) == ["628122222222"]
    assert found["628122222222"].opted_out is True
    assert found["628122222222"].fields()["name"] == "Sari"

    removed = await store.write(
        store_contacts.delete_contacts, account_id=account_id, phone="628111111111", group=None
    )
    assert removed == 2
    not_theirs = await store.write(
        store_contacts.delete_contacts, account_id=other_account, phone="628122222222", group=None
    )
    assert not_theirs == 0
