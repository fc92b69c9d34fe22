"""Where the store sets aside a row it cannot read back: moved, not deleted (a human may want
it), so the daemon goes on without it and ``status`` can say how many there are."""

from __future__ import annotations

import json
import sqlite3

from riskwatch.store.rows import CorruptRow

MIGRATION = """
    CREATE TABLE quarantine (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        source TEXT NOT NULL,
        source_id TEXT NOT NULL,
        row TEXT NOT NULL,
        problem TEXT NOT NULL,
        at REAL NOT NULL
    );
    ALTER TABLE outbox ADD COLUMN uncertain INTEGER NOT NULL DEFAULT 0;
    """
# the tables whose rows are checked, by their id
_TABLES = {"alerts": "key", "outbox": "id", "silences": "id", "acks": "key", "answering": "key"}


def move(conn: sqlite3.Connection, bad: CorruptRow, row_id: object, row: object, at: float) -> None:
    """Copy ``row`` (as JSON text, its values' reprs where they are not JSON) to the quarantine
    table and delete it from ``bad.table``, in the caller's transaction."""
    shown = json.dumps(row, default=repr)[:100_000]
    conn.execute(
        "INSERT INTO quarantine (source, source_id, row, problem, at) VALUES (?, ?, ?, ?, ?)",
        (bad.table, bad.row_id, shown, bad.why, at),
    )
    conn.execute(f"DELETE FROM {bad.table} WHERE {_TABLES[bad.table]} = ?", (row_id,))


def count(conn: sqlite3.Connection) -> int:
    ((n,),) = conn.execute("SELECT COUNT(*) FROM quarantine").fetchall()
    return int(n)
