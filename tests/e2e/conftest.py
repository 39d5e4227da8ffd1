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

from tests.support.databases import PostgresUnavailable, postgres_database, sqlite_url
from tests.support.server import KurirProcess

# The shared assertions live in a helper module; let pytest explain their failures too.
pytest.register_assert_rewrite("tests.e2e.contract")


@pytest.fixture(
    scope="session",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def shared_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KurirProcess]:
    """``kurir serve`` on a fresh database of each kind, for the whole run."""
    directory = tmp_path_factory.mktemp("shared")
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = sqlite_url(directory)
        else:
            try:
                url = stack.enter_context(postgres_database())
            except PostgresUnavailable as error:
                pytest.skip(str(error))
        process = KurirProcess(url, directory).start()
        stack.callback(process.stop)
        yield process


@pytest.fixture(scope="session")
def http(shared_server: KurirProcess) -> Iterator[httpx.Client]:
    """A client of the shared server with its bootstrap key (kept: each new one costs 40 ms)."""
    with shared_server.client() as client:
        yield client
