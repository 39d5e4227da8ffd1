"""The Graph API stand-in answers sends and credential checks as Meta documents.

Everything goes over real HTTP to a running stand-in; answers are compared
with the recorded payloads in ``tests/support/testdata/cloud``.
"""

import base64
import copy
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.graph_payload_cases import VALID, Case
from tests.integration.graph_payload_refusals import INVALID
from tests.support.graph_data import SCRIPTED_ERRORS, fixture
from tests.support.graph_standin import GraphStandin

FBTRACE = re.compile(r"A[A-Za-z0-9_-]{22}")


@pytest.fixture(scope="module")
def shared() -> Iterator[GraphStandin]:
    """One stand-in for the payload tables: each case reads only its own answer."""
    with GraphStandin() as standin:
        yield standin


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


def call(
    http: httpx.Client,
    graph: GraphStandin,
    method: str,
    path: str,
    *,
    token: str | None = None,
    **options: Any,
) -> httpx.Response:
    """A request to the stand-in, with its token unless told another."""
    headers = {"Authorization": f"Bearer {token or graph.access_token}"}
    return http.request(method, f"{graph.base_url}{path}", headers=headers, **options)


def send(
    http: httpx.Client, graph: GraphStandin, payload: Any, *, token: str | None = None
) -> httpx.Response:
    return call(http, graph, "POST", f"/v23.0/{graph.phone.id}/messages", token=token, json=payload)


def envelope(response: httpx.Response) -> dict[str, Any]:
    """The error envelope, its trace id checked and taken out (it differs on every answer)."""
    body: dict[str, Any] = copy.deepcopy(response.json())
    trace = body["error"].pop("fbtrace_id")
    assert FBTRACE.fullmatch(trace)
    assert response.headers["x-fb-trace-id"] == trace
    return body


def recorded(name: str) -> dict[str, Any]:
    """A recorded error envelope, without its trace id."""
    body = fixture(name)
    del body["error"]["fbtrace_id"]
    return body


# The credential check: GET /{version}/{phone_number_id}


def test_the_credential_check_returns_the_phone_number(
    http: httpx.Client, graph: GraphStandin
) -> None:
    response = call(http, graph, "GET", f"/v23.0/{graph.phone.id}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=UTF-8"
    assert response.json() == fixture("phone_number.json")


def test_the_credential_check_returns_requested_fields_and_refuses_unknown_ones(
    http: httpx.Client,
    graph: GraphStandin,
) -> None:
    path = f"/v23.0/{graph.phone.id}"
    asked = call(http, graph, "GET", path, params={"fields": "name_status"})
    unknown = call(http, graph, "GET", path, params={"fields": "throughput_level"})
    assert asked.json() == {"id": graph.phone.id, "name_status": "APPROVED"}
    assert unknown.status_code == 400
    assert envelope(unknown) == recorded("error_100_nonexisting_field.json")


@pytest.mark.parametrize(("method", "edge"), [("GET", ""), ("POST", "/messages")])
def test_a_wrong_token_gets_the_oauth_exception(
    http: httpx.Client, graph: GraphStandin, method: str, edge: str
) -> None:
    path = f"/v23.0/{graph.phone.id}{edge}"
    response = call(http, graph, method, path, token="EAAG-someone-elses")
    assert response.status_code == 401
    assert envelope(response) == recorded("error_190_invalid_token.json")
    assert "invalid_token" in response.headers["www-authenticate"]
    assert graph.sent == []


def test_a_missing_token_is_asked_for(http: httpx.Client, graph: GraphStandin) -> None:
    response = http.get(f"{graph.base_url}/v23.0/{graph.phone.id}")
    assert response.status_code == 401
    assert envelope(response) == recorded("error_104_missing_token.json")


def test_an_unknown_phone_number_id_is_an_unsupported_request(
    http: httpx.Client, graph: GraphStandin
) -> None:
    read = call(http, graph, "GET", "/v23.0/100000000000001")
    sent = call(http, graph, "POST", "/v23.0/100000000000001/messages", json={})
    assert read.status_code == sent.status_code == 400
    assert envelope(read) == recorded("error_100_unknown_object.json")
    expected = recorded("error_100_unknown_object.json")
    expected["error"]["message"] = expected["error"]["message"].replace("get", "post", 1)
    assert envelope(sent) == expected


def test_a_malformed_version_is_refused(http: httpx.Client, graph: GraphStandin) -> None:
    response = call(http, graph, "GET", f"/23.0/{graph.phone.id}")
    assert response.status_code == 400
    assert envelope(response) == recorded("error_100_invalid_version.json")


# Sends: POST /{version}/{phone_number_id}/messages


@pytest.mark.parametrize("case", VALID, ids=[case.name for case in VALID])
def test_a_valid_payload_is_accepted_with_a_new_wamid(
    http: httpx.Client, shared: GraphStandin, case: Case
) -> None:
    response = send(http, shared, case.payload)
    assert response.status_code == 200, response.text
    body = response.json()
    wamid = body["messages"][0]["id"]
    wa_id = re.sub(r"\D", "", case.payload["to"])
    expected = fixture("send_success.json")
    expected["contacts"] = [{"input": case.payload["to"], "wa_id": wa_id}]
    expected["messages"][0]["id"] = wamid
    if case.payload.get("type") == "template":
        expected["messages"][0]["message_status"] = "accepted"
    assert body == expected
    assert shared.message(wamid).payload == case.payload
    assert [request.wamid for request in shared.sent].count(wamid) == 1


@pytest.mark.parametrize("case", INVALID, ids=[case.name for case in INVALID])
def test_a_payload_meta_refuses_gets_its_envelope(
    http: httpx.Client, shared: GraphStandin, case: Case
) -> None:
    before = len(shared.sent)
    response = send(http, shared, case.payload)
    assert response.status_code == 400
    error: dict[str, Any] = {"message": case.message, "type": "OAuthException", "code": case.code}
    if case.details is not None:
        error["error_data"] = {"messaging_product": "whatsapp", "details": case.details}
    assert envelope(response) == {"error": error}
    assert len(shared.sent) == before


@pytest.mark.parametrize(
    ("name", "case"),
    [
        ("error_100_required_parameter.json", "no messaging_product"),
        ("error_100_param_not_in_enum.json", "type not a message type"),
        ("error_100_invalid_parameter.json", "text of 4097 characters"),
        ("error_131009_parameter_value_not_valid.json", "button title of 21 characters"),
    ],
)
def test_the_recorded_refusals_are_what_the_standin_answers(
    http: httpx.Client, shared: GraphStandin, name: str, case: str
) -> None:
    (payload,) = [item.payload for item in INVALID if item.name == case]
    assert envelope(send(http, shared, payload)) == recorded(name)


def test_a_body_that_is_not_json_lacks_every_parameter(
    http: httpx.Client, graph: GraphStandin
) -> None:
    path = f"/v23.0/{graph.phone.id}/messages"
    response = call(http, graph, "POST", path, content=b"to=628111111111")
    assert envelope(response) == recorded("error_100_required_parameter.json")


def test_a_template_send_is_accepted_as_meta_answers_templates(
    http: httpx.Client, graph: GraphStandin
) -> None:
    (case,) = [item for item in VALID if item.name == "template hello_world, + and spaces"]
    body = send(http, graph, case.payload).json()
    expected = fixture("send_success_template.json")
    expected["messages"][0]["id"] = body["messages"][0]["id"]
    assert body == expected


def test_wamids_are_unique_and_shaped_as_meta_shapes_them(
    http: httpx.Client, graph: GraphStandin
) -> None:
    ids = {send(http, graph, VALID[0].payload).json()["messages"][0]["id"] for _ in range(20)}
    assert len(ids) == 20
    for wamid in ids | {fixture("send_success.json")["messages"][0]["id"]}:
        record = base64.b64decode(wamid.removeprefix("wamid."))
        # A record of the user's number, the direction, an 18-character key.
        assert record[:15] == b"\x1c\x18\x0c628111111111"
        assert re.fullmatch(rb"\x15\x02\x00\x11\x18\x12[0-9A-F]{18}\x00", record[15:])


def test_every_request_is_recorded_with_its_headers_and_answer(
    http: httpx.Client, graph: GraphStandin
) -> None:
    accepted = send(http, graph, VALID[0].payload).json()["messages"][0]["id"]
    send(http, graph, {"messaging_product": "whatsapp"})
    send(http, graph, VALID[0].payload, token="EAAG-wrong")
    first, refused, unauthorised = graph.requests
    assert (first.method, first.path, first.version) == (
        "POST",
        f"/v23.0/{graph.phone.id}/messages",
        "v23.0",
    )
    assert first.headers["authorization"] == f"Bearer {graph.access_token}"
    assert first.headers["content-type"] == "application/json"
    assert (first.status, first.wamid, first.payload) == (200, accepted, VALID[0].payload)
    assert (refused.status, refused.wamid) == (400, None)
    assert (unauthorised.status, unauthorised.wamid) == (401, None)
    assert [request.wamid for request in graph.sent] == [accepted]


def test_a_read_receipt_is_acknowledged(http: httpx.Client, graph: GraphStandin) -> None:
    receipt = {"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.X"}
    response = send(http, graph, receipt)
    assert response.status_code == 200
    assert response.json() == fixture("read_receipt_success.json")
    assert graph.sent == []


# Scripted failures


@pytest.mark.parametrize("code", sorted(SCRIPTED_ERRORS))
def test_a_scripted_error_answers_the_next_sends_then_sends_go_through(
    http: httpx.Client, graph: GraphStandin, code: int
) -> None:
    graph.fail_next(code, times=2)
    failures = [send(http, graph, VALID[0].payload) for _ in range(2)]
    scripted = SCRIPTED_ERRORS[code]
    for response in failures:
        assert response.status_code == scripted.status
        assert envelope(response) == recorded(scripted.fixture)
    assert send(http, graph, VALID[0].payload).status_code == 200
    assert [request.status for request in graph.requests] == [scripted.status] * 2 + [200]
    assert len(graph.sent) == 1


def test_the_scripted_status_can_be_chosen(http: httpx.Client, graph: GraphStandin) -> None:
    graph.fail_next(131056, status=429)
    response = send(http, graph, VALID[0].payload)
    assert response.status_code == 429
    assert envelope(response) == recorded("error_131056_pair_rate_limit.json")


def test_a_scripted_failure_waits_for_a_request_with_the_right_token(
    http: httpx.Client, graph: GraphStandin
) -> None:
    graph.fail_next(131000)
    assert send(http, graph, VALID[0].payload, token="EAAG-wrong").status_code == 401
    assert send(http, graph, VALID[0].payload).status_code == 500
    assert send(http, graph, VALID[0].payload).status_code == 200


def test_a_raw_503_has_no_graph_envelope(http: httpx.Client, graph: GraphStandin) -> None:
    graph.fail_next("raw_503")
    response = send(http, graph, VALID[0].payload)
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("text/html")
    assert b"error" not in response.content
    assert graph.requests[-1].status == 503


def test_a_dropped_connection_gets_no_answer_and_sends_nothing(
    http: httpx.Client, graph: GraphStandin
) -> None:
    graph.fail_next("drop")
    with pytest.raises(httpx.RemoteProtocolError):
        send(http, graph, VALID[0].payload)
    assert graph.requests[-1].status is None
    assert graph.sent == []
    assert send(http, graph, VALID[0].payload).status_code == 200


def test_an_error_with_no_recorded_envelope_cannot_be_scripted(
    http: httpx.Client, graph: GraphStandin
) -> None:
    with pytest.raises(ValueError, match="no recorded envelope"):
        graph.fail_next(131999)
