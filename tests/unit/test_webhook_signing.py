"""Signatures checked by the Standard Webhooks library itself, as a receiver would check them."""

import base64
import json
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from kurir.webhooks.signing import (
    ROTATION_OVERLAP_MS,
    new_secret,
    secret_key,
    sign,
    signing_secrets,
)

BODY = b'{"event":"message.status","device":"888","data":{"message_id":"3EB0","status":"Read"}}'
MSG_ID = "msg_3EB0018F2A6B1C00D2"


def signed(secrets: list[str], body: bytes = BODY) -> dict[str, str]:
    return sign(secrets, MSG_ID, int(time.time()), body)


def test_a_new_secret_is_whsec_and_24_random_bytes_in_base64() -> None:
    made = {new_secret() for _ in range(100)}
    assert len(made) == 100
    for secret in made:
        assert secret.startswith("whsec_")
        assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 24
        assert not secret.endswith("=")  # no padding for stricter libraries to trip on


def test_one_secret_signs_what_the_library_verifies() -> None:
    secret = new_secret()
    headers = signed([secret])
    assert headers["webhook-id"] == MSG_ID
    assert headers["webhook-signature"].startswith("v1,")
    assert " " not in headers["webhook-signature"]
    assert Webhook(secret).verify(BODY, headers) == json.loads(BODY)


def test_the_signature_is_the_spec_s_hmac_of_id_timestamp_and_body() -> None:
    # The library's own signer, at a fixed moment, agrees byte for byte.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    headers = sign([secret], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}')
    expected = Webhook(secret).sign(
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        datetime.fromtimestamp(1614265330, tz=UTC),
        '{"test": 2432232314}',
    )
    assert headers == {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": expected,
    }


def test_during_a_rotation_both_secrets_sign_and_either_verifies() -> None:
    new, old = new_secret(), new_secret()
    headers = signed([new, old])
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(new).verify(BODY, headers)
    Webhook(old).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(new_secret()).verify(BODY, headers)


@pytest.mark.parametrize(
    ("header", "tampered"),
    [
        ("body", BODY.replace(b"Read", b"Sent")),
        ("body", BODY + b" "),
        ("webhook-id", "msg_3EB0018F2A6B1C00D3"),
        # Relative to the signing time: a value fixed at collection would be
        # refused as too old, not as unsigned, in a run that lasts minutes.
        ("webhook-timestamp", "a second before signing"),
    ],
)
def test_a_tampered_delivery_is_refused(header: str, tampered: str | bytes) -> None:
    secret = new_secret()
    headers = signed([secret, new_secret()])
    body = BODY
    if isinstance(tampered, bytes):
        body = tampered
    elif header == "webhook-timestamp":
        headers[header] = str(int(headers[header]) - 1)
    else:
        headers[header] = tampered
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(secret).verify(body, headers)


def test_a_secret_without_its_base64_padding_is_accepted_as_libraries_accept_it() -> None:
    padded = "whsec_" + base64.b64encode(bytes(range(32))).decode()
    assert padded.endswith("=")
    unpadded = padded.rstrip("=")
    assert secret_key(unpadded) == secret_key(padded) == bytes(range(32))
    Webhook(unpadded).verify(BODY, signed([unpadded]))


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "must start with 'whsec_'"),
        ("whsec_MfKQ9r8GKYqrTwjU*D8ILPZIo2LaLaSw", "must be base64"),
        ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwA", "must be base64"),  # 4n + 1 characters
        ("whsec_c2hvcnQ=", "must hold 24 to 64 bytes, not 5"),
        ("whsec_" + base64.b64encode(bytes(65)).decode(), "must hold 24 to 64 bytes, not 65"),
    ],
)
def test_an_unusable_secret_is_refused_without_being_named(secret: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem) as refused:
        sign([secret], MSG_ID, 1614265330, BODY)
    shown = str(refused.value)
    assert secret.removeprefix("whsec_")[:8] not in shown
    # Nor in a chained error a traceback would print.
    error = refused.value
    assert error.__cause__ is None
    assert error.__context__ is None or error.__suppress_context__


@pytest.mark.parametrize("msg_id", ["", "msg.1", "msg 1", "msg\r\nx-injected: 1", "é", "m" * 201])
def test_an_id_that_would_break_the_signed_content_or_the_header_is_refused(msg_id: str) -> None:
    with pytest.raises(ValueError, match="webhook id"):
        sign([new_secret()], msg_id, 1614265330, BODY)


def test_signing_needs_a_secret_and_a_timestamp_in_unix_seconds() -> None:
    with pytest.raises(ValueError, match="at least one secret"):
        sign([], MSG_ID, 1614265330, BODY)
    with pytest.raises(ValueError, match="not negative"):
        sign([new_secret()], MSG_ID, -1, BODY)


def test_the_previous_secret_signs_for_a_day_after_a_rotation() -> None:
    rotated_at = 1_700_000_000_000

    def at(now: int) -> tuple[str, ...]:
        return signing_secrets("whsec_new", "whsec_old", rotated_at=rotated_at, now=now)

    assert at(rotated_at) == ("whsec_new", "whsec_old")
    assert at(rotated_at + ROTATION_OVERLAP_MS - 1) == ("whsec_new", "whsec_old")
    assert at(rotated_at + ROTATION_OVERLAP_MS) == ("whsec_new",)
    assert ROTATION_OVERLAP_MS == 24 * 3600 * 1000
    never_rotated = signing_secrets("whsec_new", None, rotated_at=None, now=rotated_at)
    assert never_rotated == ("whsec_new",)
