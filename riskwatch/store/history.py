"""What riskwatch said and what became of it: every line, event and delivery outcome.

Why a table of its own: the outbox forgets a message once it is delivered, and the journal
forgets at its own pace; "what did it send at 03:00, and did it arrive?" needs both halves kept
together for ``history_keep``. Lines (and events) are written in the cycle's transaction, so the
history never tells of a line whose alert state was not committed; delivery outcomes are written
in the same small transaction that takes the message out of the outbox (or marks it failed).
Pruning runs in the cycle's transaction too: the table never outgrows ``history_keep``.

No secret is ever written here: a URL is named by its destination key (a hash) and its channel,
and an error text is redacted before it gets here.

The SQL lives here and the store runs it; this module imports nothing of the store.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

# Appended to store.db.MIGRATIONS (one entry).
MIGRATION = """
    CREATE TABLE history (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        kind TEXT NOT NULL,
        rule TEXT NOT NULL DEFAULT '',
        subject TEXT NOT NULL DEFAULT '',
        side TEXT NOT NULL DEFAULT '',
        product_type TEXT NOT NULL DEFAULT '',
        severity TEXT NOT NULL DEFAULT '',
        what TEXT NOT NULL DEFAULT '',
        text TEXT NOT NULL DEFAULT '',
        channel TEXT NOT NULL DEFAULT '',
        dest_key TEXT NOT NULL DEFAULT '',
        queued_at REAL,
        attempts INTEGER,
        seconds REAL
    );
    CREATE INDEX history_at ON history (at);
"""

# Kinds: a notification line; an event (DESIGN 10: liquidated, ...); a delivery outcome.
LINE, EVENT = "line", "event"
DELIVERED, FAILED, DROPPED = "delivered", "failed", "dropped"
KINDS = (LINE, EVENT, DELIVERED, FAILED, DROPPED)


@dataclass(frozen=True, slots=True)
class Record:
    """One history row. Lines and events name their alert (rule, subject = symbol or margin
    coin, side, product type) and carry the line; delivery outcomes name the URL by channel
    and ``dest_key`` and the cycle whose messages they delivered by ``queued_at``."""

    at: float
    kind: str
    text: str = ""
    rule: str = ""
    subject: str = ""
    side: str = ""
    product_type: str = ""
    severity: str = ""
    what: str = ""  # lines: the transition (firing, escalated, ...); outcomes: the title
    channel: str = ""
    dest_key: str = ""
    queued_at: float | None = None
    attempts: int | None = None
    seconds: float | None = None
    account: str = ""  # lines and events: whose alert (DESIGN 14); outcomes: ""

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _COLUMNS}


_COLUMNS = (
    "at", "kind", "text", "rule", "subject", "side", "product_type", "severity", "what",
    "channel", "dest_key", "queued_at", "attempts", "seconds", "account",
)  # fmt: skip
_INSERT = f"INSERT INTO history ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"


def insert(conn: sqlite3.Connection, records: Iterable[Record]) -> None:
    conn.executemany(_INSERT, [tuple(getattr(r, c) for c in _COLUMNS) for r in records])


def after(conn: sqlite3.Connection, sql: str, args: Sequence[Any], outcome: Record | None) -> None:
    """Run the outbox change ``sql``, then record its ``outcome`` (same transaction)."""
    conn.execute(sql, args)
    insert(conn, [outcome] if outcome else [])


def prune(conn: sqlite3.Connection, before: float) -> None:
    """Forget everything older than ``before`` (an indexed range delete: cheap every cycle)."""
    conn.execute("DELETE FROM history WHERE at < ?", (before,))


def select(conn: sqlite3.Connection, since: float) -> list[Record]:
    """Every row from ``since`` on, oldest first (filters by glob are the caller's)."""
    rows: Sequence[tuple[Any, ...]] = conn.execute(
        f"SELECT {', '.join(_COLUMNS)} FROM history WHERE at >= ? ORDER BY at, id", (since,)
    ).fetchall()
    return [Record(*row) for row in rows]
