"""A cloud device's config: each value checked at add time, secrets never shown, sealed at rest."""

import json
import re
from typing import Any

import msgspec
import pytest

from kurir.domain.errors import ValidationError
from kurir.sealing import SealingError, SecretBox, is_sealed, open_config, seal_config
from kurir.transports import TransportConfigError, config_to_store, read_config
from kurir.transports.base import PermanentSendError, TransientSendError
from kurir.transports.cloud.config import SECRET_FIELDS, read_cloud_config
from kurir.transports.cloud.errors import send_error

TOKEN = "EAAG-a-real-looking-token"
VALID: dict[str, Any] = {
    "phone_number_id": "106540352242922",
    "access_token": TOKEN,
    "app_secret": "0123456789abcdef0123456789abcdef",
    "verify_token": "kurir-verify",
}
KEY = "k" * 32


def config(**changes: Any) -> str:
    return json.dumps({**VALID, **changes})


def test_the_defaults_are_metas() -> None:
    read = read_cloud_config(config())
    assert (read.version, read.base_url, read.list_button_label) == (
        "v23.0",
        "https://graph.facebook.com",
        "Pilih",
    )
    assert read.messages_per_second == 80
    assert read.messages_url == "https://graph.facebook.com/v23.0/106540352242922/messages"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"phone_number_id": "+62 812"}, "phone_number_id must be the number's id"),
        ({"access_token": "EAAG token with spaces"}, "access_token must be 1 to 4096 visible"),
        ({"app_secret": ""}, "app_secret must be 1 to 4096"),
        ({"verify_token": "a\nb"}, "verify_token must be 1 to 4096"),
        ({"version": "23.0"}, "version must be a Graph API version such as v23.0"),
        ({"list_button_label": "x" * 21}, "list_button_label is 21 characters"),
        ({"list_button_label": "  "}, "list_button_label must not be empty"),
        ({"messages_per_second": 0}, "messages_per_second must be above 0"),
        ({"messages_per_second": 5000}, "at most 1000"),
        ({"base_url": "ftp://graph.example"}, "base_url must be an http(s) URL"),
        ({"base_url": "http://graph.example"}, "base_url must be https"),
        ({"base_url": "https://u:p@graph.example"}, "no credentials, query or fragment"),
        ({"base_url": "https://graph.example:port"}, "base_url must be an http(s) URL"),
    ],
)
def test_a_value_that_cannot_work_is_refused_naming_the_field(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        read_cloud_config(config(**changes))


def test_unknown_and_missing_fields_are_refused() -> None:
    with pytest.raises(msgspec.ValidationError, match="unknown field `token`"):
        read_cloud_config(config(token="x"))
    with pytest.raises(msgspec.ValidationError, match="missing required field `app_secret`"):
        read_cloud_config(json.dumps({k: v for k, v in VALID.items() if k != "app_secret"}))


def test_http_is_allowed_to_this_machine_only_and_the_slash_is_trimmed() -> None:
    for url in ("http://127.0.0.1:8090/", "http://localhost:8090", "http://[::1]:8090"):
        assert read_cloud_config(config(base_url=url)).base_url == url.rstrip("/")


def test_no_secret_shows_in_the_repr_or_an_error() -> None:
    read = read_cloud_config(config())
    assert TOKEN not in repr(read)
    assert VALID["app_secret"] not in repr(read)
    with pytest.raises(TransportConfigError) as refused:
        read_config("cloud", config(access_token=TOKEN + " x"), default_region="ID")
    assert TOKEN not in str(refused.value)


def test_secrets_are_sealed_with_a_key_and_read_back_through_it() -> None:
    box = SecretBox(KEY)
    stored = config_to_store("cloud", config(), secrets=box)
    fields = json.loads(stored)
    for name in SECRET_FIELDS:
        assert is_sealed(fields[name]), name
        assert VALID[name] not in stored
    assert fields["phone_number_id"] == VALID["phone_number_id"]
    read = read_config("cloud", stored, default_region="ID", secrets=box)
    assert (read.access_token, read.app_secret) == (TOKEN, VALID["app_secret"])
    # Sealed twice with one key, a secret looks different: nothing to compare between rows.
    assert (
        json.loads(config_to_store("cloud", config(), secrets=box))["access_token"]
        != (fields["access_token"])
    )


def test_without_a_key_secrets_are_stored_as_given() -> None:
    assert config_to_store("cloud", config(), secrets=None) == config()


@pytest.mark.parametrize(
    ("secrets", "message"),
    [
        (None, "sealed with KURIR_SECRET_KEY, which is not set in this process"),
        (SecretBox("z" * 32), "sealed with another KURIR_SECRET_KEY"),
    ],
    ids=["no key", "another key"],
)
def test_a_sealed_config_without_its_key_is_a_clear_error(
    secrets: SecretBox | None, message: str
) -> None:
    stored = config_to_store("cloud", config(), secrets=SecretBox(KEY))
    with pytest.raises(TransportConfigError, match=message):
        read_config("cloud", stored, default_region="ID", secrets=secrets)


def test_a_sealed_value_moved_to_another_field_does_not_open() -> None:
    box = SecretBox(KEY)
    sealed = json.loads(seal_config(config(), SECRET_FIELDS, box, transport="cloud"))
    sealed["app_secret"] = sealed["access_token"]
    with pytest.raises(SealingError, match=r"cloud\.app_secret was sealed with another"):
        open_config(json.dumps(sealed), SECRET_FIELDS, box, transport="cloud")


def test_a_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 32 characters"):
        SecretBox("short")


@pytest.mark.parametrize(
    ("status", "body", "retry_after", "kind", "pause"),
    [
        (502, b"<html>Bad gateway</html>", None, TransientSendError, None),
        (429, b"", "7", TransientSendError, 7.0),
        (404, b"Not found", None, PermanentSendError, None),
        (
            400,
            b'{"error": {"message": "(#131056) pair", "code": 131056}}',
            "20",
            TransientSendError,
            20.0,
        ),
        (
            400,
            b'{"error": {"message": "(#131056) pair", "code": 131056}}',
            "1",
            TransientSendError,
            6.0,
        ),
        (
            400,
            b'{"error": {"message": "odd", "code": 99, "is_transient": true}}',
            None,
            TransientSendError,
            None,
        ),
        (
            503,
            b'{"error": {"message": "(#131009) Parameter value is not valid", "code": 131009}}',
            None,
            TransientSendError,
            None,
        ),
        (
            400,
            b'{"error": {"message": "(#131009) Parameter value is not valid", "code": 131009}}',
            None,
            PermanentSendError,
            None,
        ),
    ],
    ids=[
        "5xx without envelope",
        "429 with Retry-After",
        "404 without envelope",
        "pair rate with a longer Retry-After",
        "pair rate at least 6 s",
        "is_transient",
        "5xx with a content error",
        "content error",
    ],
)
def test_answers_without_a_known_code_are_read_by_status(
    status: int, body: bytes, retry_after: str | None, kind: type[Exception], pause: float | None
) -> None:
    error = send_error(status, body, retry_after)
    assert type(error) is kind
    if isinstance(error, TransientSendError):
        assert error.retry_after == pause
