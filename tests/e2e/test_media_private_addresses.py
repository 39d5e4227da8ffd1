"""Media from a server on a public address, with Kurir refusing private ones as in production.

A test cannot have both on loopback: with private addresses allowed, nothing
is refused; without, the test's own server is. So media_in_namespace.py runs
in a network namespace of its own whose loopback also holds a public address
(`media_in_namespace.PUBLIC`), as the egress helper's own tests do
(tests/integration/egress_in_namespace.py), with a real ``kurir serve`` on
SQLite and on PostgreSQL.
"""

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type information
import pytest
from sqlalchemy.engine import URL, make_url

from tests.e2e.media_in_namespace import PUBLIC
from tests.support.databases import ADMIN_URL


async def _socket_directory() -> str | None:
    """Where the test PostgreSQL's Unix socket is, reachable from any network namespace."""
    try:
        connection = await asyncpg.connect(ADMIN_URL, timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return None
    try:
        directories: str = await connection.fetchval("SHOW unix_socket_directories")
    finally:
        await connection.close()
    found = [d.strip() for d in directories.split(",") if d.strip().startswith("/")]
    return found[0] if found else None


def test_in_a_network_namespace() -> None:
    """Runs media_in_namespace.py where a public address belongs to the namespace's loopback.

    There Kurir refuses private addresses as in production, while the test's
    "public" file server is reachable. PostgreSQL is reached through its
    Unix socket, which a network namespace does not hide.
    """
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"):
        pytest.skip("needs root, unshare and ip to make a network namespace")
    if subprocess.run(["unshare", "--net", "true"], check=False).returncode != 0:
        pytest.skip("cannot make a network namespace here (unshare --net failed)")
    env = {**os.environ, "KURIR_TEST_IN_NAMESPACE": "1"}
    directory = asyncio.run(_socket_directory())
    if directory is not None:
        admin = make_url(ADMIN_URL)
        through_socket = URL.create(
            admin.drivername,
            username=admin.username,
            password=admin.password,
            database=admin.database,
            query={"host": directory},
        )
        env["KURIR_TEST_POSTGRES_URL"] = through_socket.render_as_string(hide_password=False)
    module = Path(__file__).with_name("media_in_namespace.py")
    setup = f"ip link set lo up && ip addr add {PUBLIC}/32 dev lo"
    command = f"{setup} && exec {sys.executable} -m pytest -q -p no:cacheprovider -rs {module}"
    run = subprocess.run(
        ["unshare", "--net", "sh", "-c", command],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert " passed" in run.stdout, run.stdout
    if directory is not None:
        assert "skipped" not in run.stdout, run.stdout
