"""Query building shared by the store's modules (and the transports' own tables)."""

from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite


def dialect_insert(connection: Connection, table: sa.Table) -> Any:
    """An INSERT with the connection's dialect's ``ON CONFLICT`` clauses."""
    if connection.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
