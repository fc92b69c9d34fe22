"""The short ids Telegram buttons name alerts by (DESIGN 12: ``callback_data`` is at most 64
bytes, an alert key can be longer), one per firing spell of an alert.

Apart from ``store.silences`` because the Telegram sender (delivery) needs them, and delivery
decides nothing: this module knows alert keys and nothing of the answering layer.
"""

from __future__ import annotations

import json
import secrets
import sqlite3

from riskwatch.model import AlertKey
from riskwatch.store.db import Store, _key_json

KEEP = 30 * 86400.0  # a button older than this acts on nothing


def short_id(store: Store, key: AlertKey, since: float, now: float) -> str:
    """The id a Telegram button names the alert by: one per firing spell (``since``), so a
    button of an alert that resolved and fired again acts on nothing."""
    kj = _key_json(key)
    found = ""

    def body(conn: sqlite3.Connection) -> None:
        nonlocal found
        row = conn.execute(
            "SELECT id FROM alert_ids WHERE key = ? AND since = ?", (kj, since)
        ).fetchone()
        if row:
            found = row[0]
            return
        conn.execute("DELETE FROM alert_ids WHERE created_at < ?", (now - KEEP,))
        while True:
            found = secrets.token_urlsafe(6)
            if not conn.execute("SELECT 1 FROM alert_ids WHERE id = ?", (found,)).fetchone():
                break
        conn.execute(
            "INSERT INTO alert_ids (id, key, since, created_at) VALUES (?, ?, ?, ?)",
            (found, kj, since, now),
        )

    store._write("record alert id", body)
    return found


def by_short_id(store: Store, sid: str) -> tuple[AlertKey, float] | None:
    rows = store._read("read alert id", "SELECT key, since FROM alert_ids WHERE id = ?", (sid,))
    return (tuple(json.loads(rows[0][0])), float(rows[0][1])) if rows else None
