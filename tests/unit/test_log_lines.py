"""Log lines name what they are about, from the call's ``extra`` or the surrounding context."""

import json
import logging

import pytest

from kurir.logs import configure_logging, log_context


def _logged(capsys: pytest.CaptureFixture[str], *, json_lines: bool) -> list[str]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    configure_logging(level="info", json=json_lines)
    log = logging.getLogger("kurir.test")
    try:
        with log_context(message_id="3EB0AAAAAAAAAAAAAAAA", device="dev-1", account=7):
            log.warning("send failed: %s", "no answer")
            with log_context(device="dev-2"):
                log.info("inner")
        log.error(
            "unexpected error, request abcdef0123456789", extra={"request_id": "abcdef0123456789"}
        )
        log.info("about nothing")
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("failed")
    finally:  # the root logger as the test found it
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)
    return capsys.readouterr().err.splitlines()


def test_json_lines_carry_the_subjects_and_tracebacks_as_fields(
    capsys: pytest.CaptureFixture[str],
) -> None:
    records = [json.loads(line) for line in _logged(capsys, json_lines=True)]
    assert [record["message"] for record in records] == [
        "send failed: no answer",
        "inner",
        "unexpected error, request abcdef0123456789",
        "about nothing",
        "failed",
    ]
    first, inner, error, nothing, failed = records
    assert (first["message_id"], first["device"], first["account"]) == (
        "3EB0AAAAAAAAAAAAAAAA",
        "dev-1",
        7,
    )
    assert (first["level"], first["logger"]) == ("warning", "kurir.test")
    assert (inner["device"], inner["message_id"]) == ("dev-2", "3EB0AAAAAAAAAAAAAAAA")
    assert error["request_id"] == "abcdef0123456789"
    assert not {"message_id", "device", "account"} & set(nothing)
    assert "ValueError: boom" in failed["exception"]


def test_text_lines_append_the_subjects_they_do_not_say(
    capsys: pytest.CaptureFixture[str],
) -> None:
    first, inner, error, nothing, *_ = _logged(capsys, json_lines=False)
    assert first.endswith(
        "WARNING kurir.test: send failed: no answer "
        "[message_id=3EB0AAAAAAAAAAAAAAAA device=dev-1 account=7]"
    )
    assert inner.endswith("[message_id=3EB0AAAAAAAAAAAAAAAA device=dev-2 account=7]")
    assert error.endswith("ERROR kurir.test: unexpected error, request abcdef0123456789")
    assert nothing.endswith("INFO kurir.test: about nothing")
