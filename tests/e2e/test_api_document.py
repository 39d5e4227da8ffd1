"""The API document (GET /openapi.json) and its page (GET /docs), against the real app.

The document must be valid OpenAPI 3.1, name every route the app has and
nothing it lacks, and hold true of a live server: schemathesis sends it
requests generated from the document and checks every answer against the
shapes the document promises.
"""

import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import msgspec
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.routing import Mount, Route

from kurir.api.app import SendFastPath, create_app
from kurir.api.docs import ASSETS_PATH, STATIC
from kurir.api.openapi import OPERATIONS, build_document
from kurir.api.operation import Operation
from kurir.api.requests import convert_fields
from kurir.config import Settings
from kurir.dashboard import ASSETS_PATH as DASHBOARD_ASSETS
from kurir.dashboard import is_page
from kurir.store import Store
from tests.e2e.contract import JAKARTA, button_body, local_time, wait_for_status
from tests.support.databases import sqlite_url
from tests.support.provision import provision_account
from tests.support.server import KurirProcess


#: Operations the document describes before their handlers exist ("METHOD /path").
#: Whoever adds one of the handlers removes it here; the route check below fails until then.
def _documented(document: dict[str, Any]) -> set[str]:
    return {
        f"{method.upper()} {path}" for path, item in document["paths"].items() for method in item
    }


# -- the document --------------------------------------------------------------------------------


def test_the_document_is_valid_openapi_3_1() -> None:
    document = build_document()
    validate(document)  # raises, naming the fault
    assert document["openapi"] == "3.1.0"


async def test_every_route_is_documented_and_nothing_documented_is_missing(
    tmp_path: Path,
) -> None:
    store = Store(sqlite_url(tmp_path))
    try:
        app = create_app(store, Settings())
        assert isinstance(app, SendFastPath)
        routes: set[str] = set()
        mounts: list[str] = []
        for route in app.routes:
            if isinstance(route, Mount):
                mounts.append(route.path)
            else:
                assert isinstance(route, Route)
                routes.update(f"{method} {route.path}" for method in route.methods or ())
    finally:
        await store.close()
    routes = {route for route in routes if not route.startswith("HEAD ")}  # added to each GET
    # The dashboard's pages are for people, not part of the API.
    routes = {route for route in routes if not is_page(route.split(" ", 1)[1])}
    documented = _documented(build_document())
    # The docs page's and the dashboard's scripts and styles, not part of the API.
    assert mounts == [ASSETS_PATH, DASHBOARD_ASSETS]
    assert routes - documented == set(), "routes the document leaves out"
    assert documented - routes == set(), "documented operations without a route"


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.operation_id)
def test_the_examples_are_what_the_handlers_read_and_write(operation: Operation) -> None:
    document = build_document()
    item = document["paths"][operation.path][operation.method.lower()]
    if operation.request is not None:
        example = item["requestBody"]["content"]["application/json"]["example"]
        convert_fields(example, operation.request)
    if operation.response is not None:
        msgspec.convert(operation.response_example, operation.response)
    for status, response in item["responses"].items():
        if status != "200":
            for example in response["content"]["application/json"]["examples"].values():
                assert example["value"] == {"status": "error", "message": example["summary"]}


# -- a live server ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KurirProcess]:
    """A server of its own: the generated requests press the sandbox's buttons."""
    directory = tmp_path_factory.mktemp("api-document")
    process = KurirProcess(sqlite_url(directory), directory).start()
    try:
        yield process
    finally:
        process.stop()


def test_the_server_serves_the_document(live_server: KurirProcess) -> None:
    response = httpx.get(f"{live_server.base_url}/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == build_document()


def test_the_page_and_its_assets_load_from_the_server_alone(live_server: KurirProcess) -> None:
    page_url = f"{live_server.base_url}/docs"
    page = httpx.get(page_url)
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    # The browser, too, is told to load nothing from elsewhere.
    assert "default-src 'none'" in page.headers["content-security-policy"]
    referenced = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assets = [urljoin(page_url, reference) for reference in referenced if reference != "data:,"]
    assert {url.removeprefix(live_server.base_url) for url in assets} == {
        f"{ASSETS_PATH}/docs.js",
        f"{ASSETS_PATH}/docs.css",
        "/openapi.json",
    }
    bodies = {page_url: page.text}
    for url in assets:
        response = httpx.get(url)
        assert response.status_code == 200, url
        bodies[url] = response.text
    assert (
        httpx.get(f"{live_server.base_url}{ASSETS_PATH}/docs.js")
        .headers["content-type"]
        .startswith("text/javascript")
    )
    for url, body in bodies.items():
        if url.endswith(".json"):
            continue  # data the page shows, not a thing it loads (examples hold URLs)
        external = [
            found
            for found in re.findall(r"\b[a-z][a-z0-9+.-]*://[^\s\"'`)]*", body, re.IGNORECASE)
            if not found.startswith(live_server.base_url)
        ]
        assert external == [], url
        if url.endswith(".css"):
            assert re.search(r"@import|\burl\(", body) is None, url
    # Every shipped file is one the page uses.
    shipped = {path.name for path in STATIC.iterdir()}
    assert shipped == {"docs.html", "docs.js", "docs.css"}


def test_an_asset_that_does_not_exist_is_a_404_in_the_error_shape(
    live_server: KurirProcess,
) -> None:
    response = httpx.get(f"{live_server.base_url}{ASSETS_PATH}/nothing.js")
    assert (response.status_code, response.json()) == (
        404,
        {"status": "error", "message": "Not found"},
    )


# -- the document against the live server, property-based -------------------------------------

#: No 5xx, and nothing outside the statuses, headers, content types and bodies documented.
_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
#: Generated requests per operation and kind; about a minute in all on two busy cores.
_EXAMPLES = {GenerationMode.POSITIVE: 20, GenerationMode.NEGATIVE: 15}


@pytest.fixture(scope="module")
def quiet_key(live_server: KurirProcess) -> str:
    """The key of an account without devices, for the webhook operations.

    Generated requests register endpoints at whatever URLs they make up; on an
    account where nothing happens, none of them is ever delivered to.
    """
    return provision_account(live_server.database_url)[1]


@pytest.fixture(scope="module")
def api_schema(live_server: KurirProcess) -> Any:
    return schemathesis.openapi.from_url(f"{live_server.base_url}/openapi.json")


def test_a_message_through_its_life_is_answered_as_documented(
    api_schema: Any, live_server: KurirProcess
) -> None:
    """The bodies generated requests rarely reach: a real message, sent, replied to, cancelled."""
    device = live_server.device_id
    headers = {"Authorization": live_server.api_key}

    def call(path: str, method: str, **data: Any) -> Any:
        if "body" in data:
            data["media_type"] = "application/json"
        case = api_schema[path][method].Case(**data)
        response = case.call_and_validate(
            base_url=live_server.base_url, headers=headers, checks=_CHECKS, timeout=10
        )
        return response.json()

    recipient = "628129999001"
    send = {**button_body(device), "phone": recipient}
    sent = call("/send/button", "POST", body=send)
    message_id = sent["message_id"]
    with live_server.client() as http:
        wait_for_status(http, message_id, "delivered")
    reply = {"phone": recipient, "button": 2}
    call("/sandbox/{device}/reply", "POST", path_parameters={"device": device}, body=reply)
    read = call("/message/{message_id}", "GET", path_parameters={"message_id": message_id})
    assert read["data"]["reply"]["button"] == "Opsi 2"
    tomorrow = local_time(datetime.now(JAKARTA) + timedelta(days=1))
    later = call("/send/button", "POST", body={**send, "schedule": tomorrow})["message_id"]
    path = {"message_id": later}
    assert call("/message/{message_id}", "GET", path_parameters=path)["data"]["reply"] is None
    assert call("/message/{message_id}", "DELETE", path_parameters=path)["message"] == "Cancelled"


@pytest.mark.parametrize(
    "operation",
    [pytest.param(operation, id=operation.operation_id) for operation in OPERATIONS],
)
def test_the_server_answers_as_documented(
    api_schema: Any, live_server: KurirProcess, quiet_key: str, operation: Operation
) -> None:
    """The document's examples, then requests that fit it and requests that break it.

    (schemathesis's own pytest integration does not run on pytest 9.2, so its
    strategies are driven by Hypothesis here.)
    """
    target = api_schema[operation.path][operation.method]
    key = quiet_key if operation.tag == "Webhooks" else live_server.api_key
    headers = {"Authorization": key}
    with requests.Session() as session:

        def check(case: Any) -> None:
            case.call_and_validate(
                base_url=live_server.base_url,
                session=session,
                headers=headers,
                checks=_CHECKS,
                timeout=10,
            )

        for strategy in api_schema.get_strategies_from_examples(target):
            _run(check, strategy, max_examples=5)
        for mode, max_examples in _EXAMPLES.items():
            if mode == GenerationMode.NEGATIVE and not (operation.parameters or operation.request):
                continue  # nothing to break: every request is a valid one
            _run(check, target.as_strategy(generation_mode=mode), max_examples=max_examples)


def _run(check: Callable[[Any], None], strategy: Any, *, max_examples: int) -> None:
    @settings(
        max_examples=max_examples,
        deadline=5000,
        derandomize=True,  # the same requests on every run: a failure is not luck
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        check(case)

    run()
