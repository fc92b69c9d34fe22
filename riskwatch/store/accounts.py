"""The store's migration to many accounts (DESIGN 14): alert identity gains the account.

A state dir written before accounts existed keys its alerts ``(rule, product_type, subject,
side)``; from this migration on they are ``(rule, product_type, subject, side, account)``. The
old alerts were all of the one account a rules file without ``accounts:`` watches, so the
migration appends ``"default"`` in place (``""`` for ``riskwatch-config``, which is of no
account): a firing alert stays firing and is neither repeated early nor forgotten. The outbox's
``keys`` (which alerts a queued message tells of), the answering layer's acks, memory and
button ids, and the history's lines get the account the same way.

Written in Python rather than SQL so the keys are serialised exactly as the store writes them
(``json.dumps``), or a later ``DELETE ... WHERE key = ?`` would miss a migrated row. The SQL
lives here and the store runs it; this module imports nothing of the store.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

DEFAULT = "default"
NO_ACCOUNT = ("riskwatch-config",)  # built-ins of the whole daemon, not of one account


def _account_of(key: list[Any]) -> str:
    return "" if key and key[0] in NO_ACCOUNT else DEFAULT


def _widened(key: list[Any]) -> list[Any]:
    return [*key, _account_of(key)] if len(key) == 4 else key


def _tagged(value: Any) -> Any:
    """A tuple as the store writes it (``{"t": [...]}``), widened when it is an old key."""
    if isinstance(value, dict) and set(value) == {"t"}:
        return {"t": _widened(value["t"])}
    return value


def _answering(conn: sqlite3.Connection) -> None:
    """The answering layer's tables (DESIGN 12) key alerts too: acks, the memory per alert
    (whose held resolve line carries its key) and the short ids of Telegram buttons."""
    for (key_text,) in conn.execute("SELECT key FROM acks").fetchall():
        new = json.dumps(_widened(json.loads(key_text)))
        conn.execute("UPDATE acks SET key = ? WHERE key = ?", (new, key_text))
    for key_text, data_text in conn.execute("SELECT key, data FROM answering").fetchall():
        data = json.loads(data_text)
        data["key"] = _tagged(data.get("key"))
        if isinstance(data.get("held_resolve"), dict):
            data["held_resolve"]["key"] = _tagged(data["held_resolve"].get("key"))
        new = json.dumps(_widened(json.loads(key_text)))
        conn.execute(
            "UPDATE answering SET key = ?, data = ? WHERE key = ?",
            (new, json.dumps(data), key_text),
        )
    for sid, key_text in conn.execute("SELECT id, key FROM alert_ids").fetchall():
        new = json.dumps(_widened(json.loads(key_text)))
        conn.execute("UPDATE alert_ids SET key = ? WHERE id = ?", (new, sid))


def migrate(conn: sqlite3.Connection) -> None:
    """Append the account to every stored alert key, outbox key list and history line."""
    rows = conn.execute("SELECT key, data FROM alerts").fetchall()
    for key_text, data_text in rows:
        key = json.loads(key_text)
        if len(key) != 4:
            continue
        data = json.loads(data_text)
        data["key"] = {"t": _widened(key)}
        conn.execute("DELETE FROM alerts WHERE key = ?", (key_text,))
        conn.execute(
            "INSERT OR REPLACE INTO alerts (key, data) VALUES (?, ?)",
            (json.dumps(_widened(key)), json.dumps(data)),
        )
    _answering(conn)
    for item_id, keys_text in conn.execute("SELECT id, keys FROM outbox").fetchall():
        keys = [_widened(k) for k in json.loads(keys_text)]
        conn.execute("UPDATE outbox SET keys = ? WHERE id = ?", (json.dumps(keys), item_id))
    conn.execute("ALTER TABLE history ADD COLUMN account TEXT NOT NULL DEFAULT ''")
    conn.execute(
        "UPDATE history SET account = ? WHERE kind IN ('line', 'event') AND rule NOT IN (?)",
        (DEFAULT, *NO_ACCOUNT),
    )


def last_polls(store: Any) -> dict[str, str]:
    """Each account's last successful poll as stored (``status``): the meta rows
    ``last_success`` (the default account, as before accounts) and ``last_success:NAME``."""
    rows = store._read(
        "read meta", "SELECT key, value FROM meta WHERE key = ? OR key LIKE ?",
        ("last_success", "last_success:%"),
    )  # fmt: skip
    return {(k.partition(":")[2] or DEFAULT): v for k, v in rows}
