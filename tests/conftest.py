"""Shared fixtures: real databases of both kinds and real server processes."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.databases import DATABASE_KINDS, database_of_kind, sqlite_url
from tests.support.graph_standin import GraphStandin
from tests.support.server import KurirProcess


@pytest.fixture(params=DATABASE_KINDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file, then a PostgreSQL database of its own."""
    with database_of_kind(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def sqlite_database_url(tmp_path: Path) -> str:
    """For tests about SQLite specifically."""
    return sqlite_url(tmp_path)


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[KurirProcess]:
    """``kurir serve`` on a fresh database, bootstrapped with a known key and device."""
    process = KurirProcess(database_url, tmp_path).start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def graph() -> Iterator[GraphStandin]:
    """Meta's Graph API stand-in on loopback, for the Cloud API transport (see its module)."""
    with GraphStandin() as standin:
        yield standin
