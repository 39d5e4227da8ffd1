"""Meta's Graph API as recorded: the fixtures in ``testdata/cloud``, error envelopes, ids.

The fixtures are the payloads Meta documents (its Cloud API reference, its
OpenAPI description, its error-code table), with this project's numbers in
them. The stand-in answers from them, so a transport tested against it sees
Meta's shapes byte for byte, and the stand-in's own tests check that what it
builds still matches them.

Error envelopes follow Graph's form: ``message`` is ``(#code) title``,
``error_data.details`` says what is wrong in words, and since v16 Cloud API
errors carry no ``error_subcode`` (Graph-level ones, like code 100 subcode 33
for an unknown object, still do). ``fbtrace_id`` differs on every answer.
"""

import base64
import copy
import json
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TESTDATA = Path(__file__).parent / "testdata" / "cloud"

#: The WhatsApp Business Account the stand-in's numbers belong to (``entry[].id`` in webhooks).
WABA_ID = "102290129340398"


def graph_json(payload: dict[str, Any]) -> bytes:
    """JSON as Graph writes it, in answers and webhooks alike.

    Compact, with non-ASCII characters as ``\\u`` escapes and ``/`` as ``\\/``:
    a receiver must read (and verify) the bytes it got, not a re-serialisation.
    """
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=True)
    return text.replace("/", "\\/").encode("ascii")


def fixture(name: str) -> dict[str, Any]:
    """A recorded payload from ``testdata/cloud``, as a fresh dict."""
    data: dict[str, Any] = json.loads((TESTDATA / name).read_text(encoding="utf-8"))
    return data


@dataclass(frozen=True)
class PhoneNumber:
    """A business phone number as ``GET /{phone_number_id}`` describes it."""

    id: str
    display_phone_number: str
    verified_name: str
    quality_rating: str
    code_verification_status: str = "VERIFIED"
    name_status: str = "APPROVED"

    @property
    def digits(self) -> str:
        """The number as webhooks' ``metadata.display_phone_number`` gives it: digits only."""
        return re.sub(r"\D", "", self.display_phone_number)

    def fields(self, requested: list[str] | None) -> dict[str, str]:
        """The answer to a GET: the default fields, or the requested ones (and ``id``)."""
        names = requested or ["id", "display_phone_number", "verified_name", "quality_rating"]
        return {"id": self.id} | {name: getattr(self, name) for name in names if name != "id"}


def _default_phone_number() -> PhoneNumber:
    recorded = fixture("phone_number.json")
    return PhoneNumber(**recorded)


DEFAULT_PHONE_NUMBER = _default_phone_number()

#: Fields a GET on a phone number may ask for (``?fields=``).
PHONE_NUMBER_FIELDS = frozenset(
    {
        "id",
        "display_phone_number",
        "verified_name",
        "quality_rating",
        "code_verification_status",
        "name_status",
    }
)


@dataclass(frozen=True)
class GraphAnswer:
    """An HTTP answer from the stand-in: status, JSON body, extra headers."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str]


def fbtrace_id() -> str:
    """A fresh trace id, 23 characters of URL-safe base64 as Meta's are."""
    return "A" + secrets.token_urlsafe(17)[:22]


def graph_error(
    status: int,
    code: int,
    message: str,
    *,
    details: str | None = None,
    error_type: str = "OAuthException",
    subcode: int | None = None,
) -> GraphAnswer:
    """An error envelope in Graph's form."""
    error: dict[str, Any] = {"message": message, "type": error_type, "code": code}
    if details is not None:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    if subcode is not None:
        error["error_subcode"] = subcode
    return answer_error(status, {"error": error})


def answer_error(status: int, envelope: dict[str, Any]) -> GraphAnswer:
    """``envelope`` with a fresh ``fbtrace_id``, echoed in ``x-fb-trace-id`` as Graph does."""
    body = copy.deepcopy(envelope)
    trace = fbtrace_id()
    body["error"]["fbtrace_id"] = trace
    headers = {"x-fb-trace-id": trace}
    if status == 401:
        # Graph names the failed token check in the header too.
        message = body["error"]["message"]
        headers["www-authenticate"] = f'OAuth "Facebook Platform" "invalid_token" "{message}"'
    return GraphAnswer(status, body, headers)


def missing_token() -> GraphAnswer:
    return answer_error(401, fixture("error_104_missing_token.json"))


def invalid_token() -> GraphAnswer:
    return answer_error(401, fixture("error_190_invalid_token.json"))


def unknown_object(method: str, object_id: str) -> GraphAnswer:
    """Graph's answer for an id it does not know (or the token may not see)."""
    return graph_error(
        400,
        100,
        f"Unsupported {method} request. Object with ID '{object_id}' does not exist, cannot be "
        "loaded due to missing permissions, or does not support this operation. Please read "
        "the Graph API documentation at https://developers.facebook.com/docs/graph-api",
        error_type="GraphMethodException",
        subcode=33,
    )


def invalid_version() -> GraphAnswer:
    return answer_error(400, fixture("error_100_invalid_version.json"))


def nonexisting_field(name: str) -> GraphAnswer:
    return graph_error(
        400,
        100,
        f"(#100) Tried accessing nonexisting field ({name}) on node type "
        "(WhatsAppBusinessPhoneNumber)",
    )


@dataclass(frozen=True)
class ScriptedError:
    """A failure tests can script: Meta's envelope for the code and the status Meta uses."""

    fixture: str
    status: int


#: Failures a test can script on sends, by Meta error code.
#:
#: Statuses: Meta's error-code table gives 400 for the Cloud API throttles
#: (130429, 131048, 131056) and 401 for 190; Graph's own rate limits (4 and
#: 80007) answer 429, as Meta's OpenAPI description has it. The server errors
#: (131000 and Graph's 1 and 2) answer 500. A test may choose another status.
SCRIPTED_ERRORS: dict[int, ScriptedError] = {
    1: ScriptedError("error_1_unknown.json", 500),
    2: ScriptedError("error_2_service.json", 500),
    4: ScriptedError("error_4_too_many_calls.json", 429),
    190: ScriptedError("error_190_expired_token.json", 401),
    80007: ScriptedError("error_80007_rate_limit.json", 429),
    130429: ScriptedError("error_130429_rate_limit_hit.json", 400),
    131000: ScriptedError("error_131000_something_went_wrong.json", 500),
    131026: ScriptedError("error_131026_undeliverable.json", 400),
    131047: ScriptedError("error_131047_reengagement.json", 400),
    131048: ScriptedError("error_131048_spam_rate_limit.json", 400),
    131056: ScriptedError("error_131056_pair_rate_limit.json", 400),
}


def scripted_error(code: int, status: int | None = None) -> GraphAnswer:
    scripted = SCRIPTED_ERRORS[code]
    return answer_error(status or scripted.status, fixture(scripted.fixture))


def status_error(code: int) -> dict[str, Any]:
    """The ``errors[]`` item a failed-status webhook carries for ``code``.

    Webhooks give the title and details of the same error the send API
    would have answered with, plus a link to Meta's error-code page.
    """
    error = fixture(SCRIPTED_ERRORS[code].fixture)["error"]
    if "error_data" not in error:
        raise ValueError(f"error {code} is a Graph error; status webhooks never carry it")
    title = re.sub(r"^\(#\d+\) ", "", error["message"])
    return {
        "code": code,
        "title": title,
        "message": title,
        "error_data": {"details": error["error_data"]["details"]},
        "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
    }


def wamid(wa_id: str, *, inbound: bool = False) -> str:
    """A new WhatsApp message id, built the way Meta's are.

    Meta's ids are base64 of a small binary record: the user's number, a
    direction marker, and a random hex key (18 characters for messages the
    business sends, 20 for messages it receives).
    """
    number = wa_id.encode()
    if inbound:
        tail = b"\x15\x02\x00\x12\x18\x14" + secrets.token_hex(10).upper().encode()
    else:
        tail = b"\x15\x02\x00\x11\x18\x12" + secrets.token_hex(9).upper().encode()
    record = b"\x1c\x18" + bytes([len(number)]) + number + tail + b"\x00"
    return "wamid." + base64.b64encode(record).decode()
