"""A database that cannot take a write: 503 in the API's shape, nothing stored, then recovery.

On SQLite this happens when another process holds the write lock for longer
than the busy timeout: a backup tool, an operator's open sqlite3 shell.
"""

import sqlite3
from pathlib import Path

from kurir.store.database import SQLITE_BUSY_TIMEOUT_MS
from tests.support.databases import sqlite_url
from tests.support.gateway import SETTLED, button_body, running, wait_for


def _stored_with(database: Path, marker: str) -> int:
    with sqlite3.connect(database) as connection:
        (count,) = connection.execute(
            "SELECT count(*) FROM messages WHERE content LIKE ?", (f"%{marker}%",)
        ).fetchone()
    return int(count)


def test_a_locked_sqlite_database_answers_503_and_the_next_request_succeeds(
    tmp_path: Path,
) -> None:
    database = tmp_path / "kurir.db"
    with running(sqlite_url(tmp_path), tmp_path) as server, server.client() as http:
        assert http.post("/send/button", json=button_body("dev-main", "before")).status_code == 200

        holder = sqlite3.connect(database, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # the write lock, held past the busy timeout
        try:
            refused = http.post(
                "/send/button",
                json=button_body("dev-main", "while-locked"),
                timeout=SQLITE_BUSY_TIMEOUT_MS / 1000 + 10,
            )
        finally:
            holder.execute("ROLLBACK")
            holder.close()

        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "1"
        assert refused.json() == {
            "status": "error",
            "message": "The database is unavailable; retry shortly",
        }
        assert _stored_with(database, "while-locked") == 0

        after = http.post("/send/button", json=button_body("dev-main", "after"))
        assert after.status_code == 200, after.text
        assert _stored_with(database, "after") == 1
        # The dispatcher's writes met the same lock; it carries on sending.
        message_id = after.json()["message_id"]
        wait_for(
            lambda: http.get(f"/message/{message_id}").json()["data"]["status"] in SETTLED,
            timeout=15,
            what="the message sent after the lock to settle",
        )
        assert http.get(f"/message/{message_id}").json()["data"]["status"] == "delivered"
