"""A dead worker's leases: taken back at once on its own host, waited out elsewhere.

Processes are real: a worker "dies" by being a child process that has
exited. The store's part runs on both databases.
"""

import subprocess
import sys
import time
from typing import Any

import msgspec

from kurir.dispatch import liveness
from kurir.domain.status import DEVICE_REMOVED, MessageStatus
from kurir.store import Store, accepting, leases, lifecycle
from kurir.store.records import ClaimedMessage, WorkerProcess
from kurir.store.tables import workers
from tests.integration.test_device_removal import remove
from tests.support.store_data import T0, add_account, hold_devices, message_rows, new_message

DEVICE_LEASE_MS = 15_000
MESSAGE_LEASE_MS = 60_000


def this_process() -> WorkerProcess:
    process = liveness.this_process()
    assert process is not None, "these tests need Linux's /proc"
    return process


def ended_process() -> WorkerProcess:
    """A process of this host, as it described itself before it exited."""
    described = subprocess.run(
        [
            sys.executable,
            "-c",
            "import msgspec, sys; from kurir.dispatch.liveness import this_process;"
            "sys.stdout.buffer.write(msgspec.json.encode(this_process()))",
        ],
        capture_output=True,
        check=True,
    )
    return msgspec.json.decode(described.stdout, type=WorkerProcess)


def test_a_process_has_ended_once_it_exits_or_its_pid_names_another() -> None:
    me = this_process()
    assert me.host.split()[-1].startswith("pid:[")
    assert not liveness.has_ended(me)
    gone = ended_process()
    assert gone.host == me.host
    assert liveness.has_ended(gone)
    # The same pid started at another time: the pid was reused.
    assert liveness.has_ended(msgspec.structs.replace(me, started=me.started - 1))


def test_a_process_that_exited_unreaped_has_ended() -> None:
    def stat(pid: int) -> list[str]:
        """Fields 3 on of proc_pid_stat(5): the state first, the start time at 19."""
        with open(f"/proc/{pid}/stat") as file:
            return file.read().rpartition(")")[2].split()

    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    try:
        described = WorkerProcess(this_process().host, child.pid, int(stat(child.pid)[19]))
        assert not liveness.has_ended(described)
        assert child.stdin is not None
        child.stdin.close()  # it exits; nobody waits for it yet
        deadline = time.monotonic() + 10
        while stat(child.pid)[0] != "Z":
            assert time.monotonic() < deadline, "the child did not exit"
            time.sleep(0.01)
        assert liveness.has_ended(described)
    finally:
        child.wait()


async def renew(store: Store, worker: str, process: WorkerProcess, now: int) -> leases.DeviceLeases:
    return await store.write(
        leases.renew_device_leases,
        worker=worker,
        now=now,
        lease_ms=DEVICE_LEASE_MS,
        releasable=[],
        process=process,
        has_ended=liveness.has_ended,
    )


async def claim(store: Store, worker: str, device_ids: list[int], now: int) -> list[ClaimedMessage]:
    return await store.write(
        lifecycle.claim_due_messages,
        worker=worker,
        device_limits=dict.fromkeys(device_ids, 10),
        now=now,
        lease_ms=MESSAGE_LEASE_MS,
    )


async def worker_ids(store: Store) -> set[str]:
    query = workers.select()
    return await store.database.read(
        lambda connection: {row.id for row in connection.execute(query)}
    )


async def test_a_dead_worker_of_this_host_is_relieved_at_once(store: Store) -> None:
    account, (first, second) = await add_account(store, devices=2)
    batch = [new_message(account, first) for _ in range(3)] + [new_message(account, second)]
    await store.write(accepting.insert_messages, batch)
    await renew(store, "dead", ended_process(), T0)
    assert len(await claim(store, "dead", [first, second], T0)) == 4

    # Its successor starts a second later, long before any lease runs out.
    held = await renew(store, "successor", this_process(), T0 + 1_000)
    assert held.dead_neighbours == ["dead"]
    assert sorted(device.id for device, _ in held.owned) == [first, second]
    assert await worker_ids(store) == {"successor"}
    # Sent again by the normal claim, in order, as after a lease that ran out.
    again = await claim(store, "successor", [first, second], T0 + 1_000)
    assert sorted(c.message_id for c in again) == sorted(m.message_id for m in batch)
    assert {c.attempts for c in again} == {2}


async def test_live_workers_and_those_of_other_hosts_keep_their_leases(store: Store) -> None:
    account, (device,) = await add_account(store)
    await store.write(accepting.insert_messages, [new_message(account, device)])
    # Elsewhere: its pid means nothing here, dead or not.
    elsewhere = msgspec.structs.replace(ended_process(), host="another-host boot pid:[1]")
    await renew(store, "elsewhere", elsewhere, T0)
    (claimed,) = await claim(store, "elsewhere", [device], T0)
    # On this host and alive (this very process).
    await renew(store, "twin", this_process(), T0)

    held = await renew(store, "successor", this_process(), T0 + 1_000)
    assert (held.dead_neighbours, held.owned) == ([], [])
    assert await worker_ids(store) == {"elsewhere", "twin", "successor"}
    assert await claim(store, "successor", [device], T0 + 1_000) == []
    (row,) = await message_rows(store)
    assert (row.lease_owner, row.lease_until) == ("elsewhere", T0 + MESSAGE_LEASE_MS)

    # Its device lease runs out; its message's lease is waited out too.
    held = await renew(store, "successor", this_process(), T0 + DEVICE_LEASE_MS + 1)
    assert [device.id for device, _ in held.owned] == [claimed.device_id]
    assert await claim(store, "successor", [device], T0 + DEVICE_LEASE_MS + 1) == []
    # A claim is made only under a device lease held then: renewed, as the loop does.
    await renew(store, "successor", this_process(), T0 + MESSAGE_LEASE_MS + 1)
    (again,) = await claim(store, "successor", [device], T0 + MESSAGE_LEASE_MS + 1)
    assert again.id == claimed.id


async def test_what_a_dead_worker_held_for_a_removed_device_fails(store: Store) -> None:
    account, (near, far) = await add_account(store, devices=2)
    await store.write(
        accepting.insert_messages, [new_message(account, near), new_message(account, far)]
    )
    gone = ended_process()
    await renew(store, "dead-here", gone, T0)
    await renew(store, "dead-elsewhere", msgspec.structs.replace(gone, host="another-host"), T0)
    # A claim needs the device's lease: the first worker took both, so the
    # other is given one as a fair share would have given it.
    await hold_devices(store, "dead-elsewhere", [far], until=T0 + DEVICE_LEASE_MS)
    assert len(await claim(store, "dead-here", [near], T0)) == 1
    assert len(await claim(store, "dead-elsewhere", [far], T0)) == 1
    # Both removed while the dead workers' message leases still run.
    assert await remove(store, account, near, now=T0 + 500)
    assert await remove(store, account, far, now=T0 + 500)

    def status(rows: list[Any], device: int) -> tuple[str, str | None]:
        (row,) = [row for row in rows if row.device_id == device]
        return row.status, row.last_error

    # Nobody will claim them for a removed device: they fail, at once when
    # the worker is known dead, else when its lease is over.
    await renew(store, "successor", this_process(), T0 + 1_000)
    rows = await message_rows(store)
    assert status(rows, near) == (MessageStatus.FAILED, DEVICE_REMOVED)
    assert status(rows, far) == (MessageStatus.SENDING, None)
    await renew(store, "successor", this_process(), T0 + MESSAGE_LEASE_MS + 1)
    assert status(await message_rows(store), far) == (MessageStatus.FAILED, DEVICE_REMOVED)
