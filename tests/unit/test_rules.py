"""Small domain rules: receipts, retry backoff, API keys and message ids."""

import os
import random
import re
import time

import pytest

from kurir.domain.ids import is_message_id, new_message_id
from kurir.domain.keys import (
    KEY_PREFIX,
    hash_api_key,
    hashes_match,
    key_hint,
    new_api_key,
    parse_authorization,
)
from kurir.domain.retry import RetryPolicy
from kurir.domain.status import CANCELLABLE, CLAIMABLE, MessageStatus

S = MessageStatus


def test_only_waiting_messages_are_claimable_or_cancellable() -> None:
    assert set(CLAIMABLE) == {S.SCHEDULED, S.QUEUED}
    assert set(CANCELLABLE) == {S.SCHEDULED, S.QUEUED}


# -- retry backoff --------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempts", "low", "high"),
    [
        (1, 1.0, 2.0),
        (2, 2.0, 4.0),
        (3, 4.0, 8.0),
        (4, 8.0, 16.0),
        (7, 50.0, 100.0),  # 2 * 2**6 = 128, capped at max_delay
        (9, 50.0, 100.0),
    ],
)
def test_delay_grows_exponentially_with_jitter_up_to_the_cap(
    attempts: int, low: float, high: float
) -> None:
    policy = RetryPolicy(max_attempts=10, base_delay=2.0, max_delay=100.0)
    rng = random.Random(attempts)
    delays = [policy.delay_after(attempts, rng) for _ in range(200)]
    assert all(d is not None and low <= d <= high for d in delays)
    # Jitter: failures that happened together do not all retry together.
    assert len(set(delays)) == len(delays)


def test_a_seeded_random_makes_the_delay_reproducible() -> None:
    policy = RetryPolicy()
    first = [policy.delay_after(n, random.Random(42)) for n in range(1, 8)]
    again = [policy.delay_after(n, random.Random(42)) for n in range(1, 8)]
    assert first == again


@pytest.mark.parametrize("max_attempts", [1, 3, 8])
def test_gives_up_after_max_attempts(max_attempts: int) -> None:
    policy = RetryPolicy(max_attempts=max_attempts)
    rng = random.Random(0)
    retried = [n for n in range(1, max_attempts + 3) if policy.delay_after(n, rng) is not None]
    assert retried == list(range(1, max_attempts))


def test_many_attempts_stay_at_the_cap() -> None:
    # Operators who want "never give up" set a large limit; 2.0 * 2**1100 does
    # not fit in a float, and the delay must still be the cap, not an error.
    policy = RetryPolicy(max_attempts=100_000, base_delay=2.0, max_delay=600.0)
    for attempts in (1025, 1100, 99_999):
        delay = policy.delay_after(attempts, random.Random(attempts))
        assert delay is not None
        assert 300.0 <= delay <= 600.0


# -- API keys -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "key"),
    [
        (None, None),
        ("", None),
        ("   ", None),
        ("kr_abc", "kr_abc"),  # Alat WA sends the key bare
        ("  kr_abc \t", "kr_abc"),
        ("Bearer kr_abc", "kr_abc"),
        ("bearer kr_abc", "kr_abc"),
        ("BEARER    kr_abc  ", "kr_abc"),
        (" Bearer kr_abc", "kr_abc"),
        ("Bearerkr_abc", "Bearerkr_abc"),  # no separator: the whole thing is the key
    ],
)
def test_parse_authorization(header: str | None, key: str | None) -> None:
    assert parse_authorization(header) == key


def test_keys_are_random_prefixed_and_hashed_for_storage() -> None:
    keys = {new_api_key() for _ in range(100)}
    assert len(keys) == 100
    for key in keys:
        assert key.startswith(KEY_PREFIX)
        assert len(key) >= len(KEY_PREFIX) + 43  # 32 random bytes, base64url
        stored = hash_api_key(key)
        assert re.fullmatch(r"[0-9a-f]{64}", stored)
        assert key not in stored
        assert key_hint(key) == key[:9] + "…"


def test_hashes_match() -> None:
    key = new_api_key()
    stored = hash_api_key(key)
    assert hash_api_key(key) == stored  # stable
    assert hashes_match(stored, hash_api_key(key))
    assert not hashes_match(stored, hash_api_key(key + "x"))
    assert not hashes_match(stored, hash_api_key(key.upper()))
    assert not hashes_match(stored, "")


# -- message ids ----------------------------------------------------------------


def test_new_message_ids_have_alat_was_shape_and_are_unique() -> None:
    ids = [new_message_id() for _ in range(1000)]
    assert len(set(ids)) == len(ids)
    for message_id in ids:
        assert re.fullmatch(r"3EB0[0-9A-F]{16}", message_id)
        assert is_message_id(message_id)


def test_new_message_ids_sort_in_the_order_they_were_made() -> None:
    earlier = [new_message_id() for _ in range(100)]
    time.sleep(0.002)
    later = new_message_id()
    assert earlier == sorted(earlier)
    assert later > earlier[-1]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_process_does_not_continue_its_parents_sequence() -> None:
    new_message_id()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next id and leave at once
        os.write(write_end, new_message_id().encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read_end, 64).decode()
    parent = new_message_id()
    os.close(read_end)
    os.close(write_end)
    # The last five hex digits are the sequence; the parent's goes on by one,
    # the child's starts somewhere random (the same by a 2^-20 chance).
    assert child[-5:] != parent[-5:]


@pytest.mark.parametrize(
    "value",
    [
        "",
        "3EB0",
        "3EB0" + "A" * 15,
        "3EB0" + "A" * 17,
        "3eb0" + "A" * 16,
        "3EB0" + "a" * 16,  # lower-case hex is not what Kurir hands out
        "3EB1" + "A" * 16,
        "3EB0" + "G" * 16,
        " 3EB0" + "A" * 16,
        "3EB0" + "A" * 16 + "\n",
    ],
)
def test_is_message_id_refuses_other_shapes(value: str) -> None:
    assert not is_message_id(value)
