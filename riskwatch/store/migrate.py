"""One step of the store's schema migrations: SQL statements, or a function of the connection
for a step that must rewrite values as Python writes them (``store.accounts``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

Migration = str | Callable[[sqlite3.Connection], None]


def apply(conn: sqlite3.Connection, step: Migration) -> None:
    """Run ``step`` inside the caller's transaction."""
    if callable(step):
        step(conn)
        return
    for statement in step.split(";"):
        if statement.strip():
            conn.execute(statement)
