"""The sandbox plays the recipient: POST /sandbox/{device}/reply presses a button, or writes one."""

import secrets
from datetime import datetime, timedelta

import httpx
import pytest

from tests.e2e.contract import (
    JAKARTA,
    accepted_id,
    assert_error,
    get_message,
    local_time,
    parse_time,
    sandbox_deliveries,
    send,
    wait_for_status,
)
from tests.support.provision import provision_tenant
from tests.support.server import KurirProcess

LABELS = ["Opsi 1", "Opsi 2", "Opsi 3"]


def _fresh_recipient() -> str:
    """A number no other test in the module sends to, so "the latest message" is ours."""
    return "62812" + "".join(secrets.choice("0123456789") for _ in range(7))


def _delivered_to(http: httpx.Client, device: str, recipient: str, **changes: object) -> str:
    message_id = accepted_id(send(http, device, phone=recipient, **changes))
    wait_for_status(http, message_id, "delivered")
    return message_id


def _reply(http: httpx.Client, device: str, body: object) -> httpx.Response:
    return http.post(f"/sandbox/{device}/reply", json=body)


@pytest.mark.parametrize(
    ("button", "label", "index"),
    [
        ("Opsi 2", "Opsi 2", 2),
        ("  opsi 2 ", "Opsi 2", 2),  # as a person types it
        (2, "Opsi 2", 2),
        (1, "Opsi 1", 1),
        (3, "Opsi 3", 3),
    ],
)
def test_a_reply_is_recorded_on_the_message_and_marks_it_read(
    shared_server: KurirProcess, http: httpx.Client, button: object, label: str, index: int
) -> None:
    recipient = _fresh_recipient()
    message_id = _delivered_to(http, shared_server.device_id, recipient)
    # The recipient is named as a person would write it: national, with spaces.
    national = f"0{recipient[2:5]} {recipient[5:9]} {recipient[9:]}"
    response = _reply(http, shared_server.device_id, {"phone": national, "button": button})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "ok",
        "message_id": message_id,
        "button": label,
        "index": index,
        "message": "Reply recorded",
    }
    data = get_message(http, message_id)
    assert data["status"] == "read"
    assert data["reply"] == {"button": label, "index": index, "at": data["reply"]["at"]}
    assert list(data["timestamps"]) == ["created", "sending", "sent", "delivered", "read"]
    at = parse_time(data["reply"]["at"])
    assert parse_time(data["timestamps"]["delivered"]) <= at
    assert at.utcoffset() == timedelta(hours=7)


@pytest.mark.parametrize(
    ("text", "label", "index"), [("2", "Opsi 2", 2), (" OPSI 3 ", "Opsi 3", 3)]
)
def test_a_text_that_is_a_label_or_number_is_the_reply(
    shared_server: KurirProcess, http: httpx.Client, text: str, label: str, index: int
) -> None:
    """As a recipient answers where WhatsApp shows no buttons: the same reply, the same answer."""
    recipient = _fresh_recipient()
    message_id = _delivered_to(http, shared_server.device_id, recipient)
    response = _reply(http, shared_server.device_id, {"phone": recipient, "text": text})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "ok",
        "message_id": message_id,
        "button": label,
        "index": index,
        "message": "Reply recorded",
    }
    data = get_message(http, message_id)
    assert (data["status"], data["reply"]["button"], data["reply"]["index"]) == (
        "read",
        label,
        index,
    )
    # Anything else written is a message of its own, and leaves the reply as it was.
    other = _reply(http, shared_server.device_id, {"phone": recipient, "text": "4"})
    assert other.json() == {"status": "ok", "message": "Message received"}
    assert get_message(http, message_id)["reply"]["index"] == index


def test_a_reply_answers_the_latest_message_to_that_phone(
    shared_server: KurirProcess, http: httpx.Client
) -> None:
    recipient = _fresh_recipient()
    older = _delivered_to(http, shared_server.device_id, recipient, buttons=["Ya", "Tidak"])
    newer = _delivered_to(http, shared_server.device_id, recipient, buttons=["Besok", "Lusa"])
    response = _reply(http, shared_server.device_id, {"phone": recipient, "button": "Lusa"})
    assert response.json()["message_id"] == newer
    assert get_message(http, newer)["reply"]["button"] == "Lusa"
    older_data = get_message(http, older)
    assert (older_data["status"], older_data["reply"]) == ("delivered", None)


_NOT_A_CHOICE = "button must be a button's label or its position (from 1)"


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"button": "Opsi 9"}, 422, "button 'Opsi 9' is not one of the message's buttons"),
        ({"button": ""}, 422, "button '' is not one of the message's buttons"),
        ({"button": 0}, 422, "button must be between 1 and 3, got 0"),
        ({"button": 4}, 422, "button must be between 1 and 3, got 4"),
        ({"button": -1}, 422, "button must be between 1 and 3, got -1"),
        ({"button": True}, 422, _NOT_A_CHOICE),
        ({"button": 10**4000}, 422, _NOT_A_CHOICE),
        ({"button": -(10**4000)}, 422, _NOT_A_CHOICE),
        ({"button": 2.0}, 422, _NOT_A_CHOICE),
        ({"button": None}, 422, _NOT_A_CHOICE),
        ({"button": ["Opsi 1"]}, 422, _NOT_A_CHOICE),
        ({"button": "Opsi 1", "phone": None}, 422, "phone is required"),
        ({"button": "Opsi 1", "phone": "0811"}, 422, "phone is not a valid phone number: '0811'"),
        ([], 400, "Request body must be a JSON object"),
    ],
)
def test_a_reply_that_is_not_a_choice_is_refused_and_changes_nothing(
    shared_server: KurirProcess,
    http: httpx.Client,
    body: dict[str, object] | list[object],
    status: int,
    message: str,
) -> None:
    recipient = _fresh_recipient()
    message_id = _delivered_to(http, shared_server.device_id, recipient)
    request = {"phone": recipient, **body} if isinstance(body, dict) else body
    assert_error(_reply(http, shared_server.device_id, request), status, message)
    data = get_message(http, message_id)
    assert (data["status"], data["reply"]) == ("delivered", None)


def _form_reply(
    http: httpx.Client, device: str, encoding: str, fields: dict[str, str]
) -> httpx.Response:
    path = f"/sandbox/{device}/reply"
    if encoding == "urlencoded":
        return http.post(path, data=fields)
    return http.post(path, files={name: (None, value) for name, value in fields.items()})


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
@pytest.mark.parametrize(
    ("button", "label", "index"),
    [("2", "Opsi 2", 2), (" 3 ", "Opsi 3", 3), ("opsi 1", "Opsi 1", 1)],
)
def test_a_form_reply_reads_digits_as_the_position(
    shared_server: KurirProcess,
    http: httpx.Client,
    encoding: str,
    button: str,
    label: str,
    index: int,
) -> None:
    """A form carries only text; "2" there is what the number 2 is in JSON."""
    recipient = _fresh_recipient()
    message_id = _delivered_to(http, shared_server.device_id, recipient)
    fields = {"phone": recipient, "button": button}
    response = _form_reply(http, shared_server.device_id, encoding, fields)
    assert response.status_code == 200, response.text
    assert (response.json()["button"], response.json()["index"]) == (label, index)
    assert get_message(http, message_id)["reply"]["index"] == index


@pytest.mark.parametrize(
    ("button", "message"),
    [
        ("4", "button must be between 1 and 3, got 4"),
        ("0", "button must be between 1 and 3, got 0"),
        ("9" * 5000, _NOT_A_CHOICE),
        ("²", _NOT_A_CHOICE),
        ("-1", "button '-1' is not one of the message's buttons"),
    ],
)
def test_a_form_reply_out_of_range_is_refused(
    shared_server: KurirProcess, http: httpx.Client, button: str, message: str
) -> None:
    recipient = _fresh_recipient()
    message_id = _delivered_to(http, shared_server.device_id, recipient)
    fields = {"phone": recipient, "button": button}
    assert_error(_form_reply(http, shared_server.device_id, "urlencoded", fields), 422, message)
    assert get_message(http, message_id)["reply"] is None


def test_a_reply_with_a_broken_body_is_400(shared_server: KurirProcess, http: httpx.Client) -> None:
    response = http.post(
        f"/sandbox/{shared_server.device_id}/reply",
        content=b'{"phone": ',
        headers={"Content-Type": "application/json"},
    )
    assert_error(response, 400, "Request body is not valid JSON: Input data was truncated")


def test_a_reply_from_someone_never_written_to_is_404(
    shared_server: KurirProcess, http: httpx.Client
) -> None:
    recipient = _fresh_recipient()
    response = _reply(http, shared_server.device_id, {"phone": recipient, "button": 1})
    assert_error(
        response, 404, f"device {shared_server.device_id} has sent nothing to {recipient} yet"
    )


def test_a_message_not_sent_yet_cannot_be_answered(
    shared_server: KurirProcess, http: httpx.Client
) -> None:
    recipient = _fresh_recipient()
    later = local_time(datetime.now(JAKARTA) + timedelta(hours=1))
    message_id = accepted_id(send(http, shared_server.device_id, phone=recipient, schedule=later))
    response = _reply(http, shared_server.device_id, {"phone": recipient, "button": 1})
    assert_error(
        response, 404, f"device {shared_server.device_id} has sent nothing to {recipient} yet"
    )
    assert get_message(http, message_id)["status"] == "scheduled"


def test_an_unknown_device_cannot_be_answered(http: httpx.Client) -> None:
    response = _reply(http, "dev-unknown", {"phone": "628111111111", "button": 1})
    assert_error(response, 404, "device 'dev-unknown' not found")


def test_the_sandbox_lists_what_it_delivered(
    shared_server: KurirProcess, http: httpx.Client
) -> None:
    recipient = _fresh_recipient()
    first = _delivered_to(http, shared_server.device_id, recipient)
    second = _delivered_to(http, shared_server.device_id, recipient, buttons=LABELS[:2])
    latest = sandbox_deliveries(http, shared_server.device_id)[:2]
    assert [item["message_id"] for item in latest] == [second, first]  # newest first
    assert latest[0]["to"] == recipient
    assert latest[0]["content"]["buttons"] == LABELS[:2]
    assert latest[1]["content"]["buttons"] == LABELS
    assert parse_time(latest[1]["delivered_at"]) <= parse_time(latest[0]["delivered_at"])

    limited = http.get(f"/sandbox/{shared_server.device_id}/messages", params={"limit": 1})
    assert [item["message_id"] for item in limited.json()["data"]] == [second]


def test_the_listing_shows_50_unless_asked_for_more(shared_server: KurirProcess) -> None:
    tenant = provision_tenant(shared_server.database_url)  # a device no other test sends to
    with shared_server.client(tenant.api_key) as http:
        sent = [accepted_id(send(http, tenant.device_id)) for _ in range(51)]
        for message_id in sent:
            wait_for_status(http, message_id, "delivered")
        listing = f"/sandbox/{tenant.device_id}/messages"
        default = http.get(listing).json()["data"]
        most = http.get(listing, params={"limit": 500}).json()["data"]
    assert len(default) == 50
    assert sorted(item["message_id"] for item in most) == sorted(sent)
    assert default == most[:50]


@pytest.mark.parametrize(
    "limit", ["0", "501", "-1", "abc", "1.5", "²", "", "9" * 5000, "0" * 5000 + "501"]
)
def test_a_bad_listing_limit_is_refused(
    shared_server: KurirProcess, http: httpx.Client, limit: str
) -> None:
    response = http.get(f"/sandbox/{shared_server.device_id}/messages", params={"limit": limit})
    assert_error(response, 422, "limit must be a whole number from 1 to 500")
