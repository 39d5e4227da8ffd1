"""A server shared by the contract tests, one per kind of database.

Starting ``kurir serve`` costs one to two seconds; hundreds of table rows would
spend most of their time starting servers. Tests on the shared server only
add messages (and accounts) of their own and look only at those, or at the
difference they made, so they do not depend on one another or on their order.
"""

from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest

from tests.support.databases import DATABASE_KINDS, database_of_kind
from tests.support.server import KurirProcess

# The shared assertions live in a helper module; let pytest explain their failures too.
pytest.register_assert_rewrite("tests.e2e.contract")


@pytest.fixture(
    scope="session",
    params=DATABASE_KINDS,
)
def shared_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KurirProcess]:
    """``kurir serve`` on a fresh database of each kind, for the whole run."""
    directory = tmp_path_factory.mktemp("shared")
    with ExitStack() as stack:
        url = stack.enter_context(database_of_kind(request.param, directory))
        process = KurirProcess(url, directory).start()
        stack.callback(process.stop)
        yield process


@pytest.fixture(scope="session")
def http(shared_server: KurirProcess) -> Iterator[httpx.Client]:
    """A client of the shared server with its bootstrap key (kept: each new one costs 40 ms)."""
    with shared_server.client() as client:
        yield client


@pytest.fixture(scope="session", params=DATABASE_KINDS)
def api_only_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KurirProcess]:
    """``kurir serve --no-dispatch`` on a fresh database of each kind, for the whole run.

    For tests of the API alone over rows they write themselves: no worker
    takes a device or a delivery, so nothing changes behind their back and
    nothing is sent anywhere, whatever URLs they register.
    """
    directory = tmp_path_factory.mktemp("api-only")
    with ExitStack() as stack:
        url = stack.enter_context(database_of_kind(request.param, directory))
        process = KurirProcess(url, directory, args=("--no-dispatch",)).start()
        stack.callback(process.stop)
        yield process
