"""Helpers for the webhook endpoints' end-to-end tests: requests, and looks into the database."""

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
import sqlalchemy as sa
from sqlalchemy import Connection

from kurir.store import Store
from kurir.store.tables import webhook_endpoints

T = TypeVar("T")

#: A receiver's URL; the servers of these tests never deliver, so it is never called.
RECEIVER = "https://receiver.example.com/kurir"


def in_database(database_url: str, work: Callable[[Connection], T]) -> T:
    """``work`` in one committed transaction on the server's database, beside the server."""

    async def run() -> T:
        store = Store(database_url, pool_size=1)
        try:
            return await store.database.write(work)
        finally:
            await store.close()

    return asyncio.run(run())


def stored_endpoints(database_url: str, account_id: int) -> list[Any]:
    """The account's endpoint rows, secrets and all, oldest first."""

    def read(connection: Connection) -> list[Any]:
        query = (
            sa.select(webhook_endpoints)
            .where(webhook_endpoints.c.account_id == account_id)
            .order_by(webhook_endpoints.c.id)
        )
        return list(connection.execute(query).all())

    return in_database(database_url, read)


def create(http: httpx.Client, **body: object) -> dict[str, Any]:
    """POST /webhooks with ``body`` over a default one; the created endpoint's data."""
    response = http.post("/webhooks", json={"url": RECEIVER, "events": ["message.status"], **body})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def error(response: httpx.Response, status: int, message: str) -> None:
    """The response is Kurir's refusal with ``status`` and exactly ``message``."""
    assert (response.status_code, response.json()) == (
        status,
        {"status": "error", "message": message},
    ), response.text
