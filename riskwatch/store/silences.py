"""Silences, acks, the answering layer's memory and the short alert ids of Telegram buttons,
in the state dir's SQLite file (DESIGN 12).

Why in the store and not in a file of their own: ``riskwatch silence`` and ``riskwatch ack``
write while a daemon runs, and SQLite's WAL serialises those writers with the daemon's cycle
(DESIGN 16: no lock file is taken). The daemon reads silences and acks at the start of every
cycle, so a change applies within one cycle, and writes the memory and the acks an alert's
resolve cleared in the cycle's own transaction (``Store.commit_cycle(also=...)``).

Nothing here is a secret: matchers, comments, alert keys, chat user names.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import asdict, fields
from typing import TypeVar

from riskwatch.answers import Ack, Silence
from riskwatch.answers import AnswerMemory as Memory
from riskwatch.errors import StoreError
from riskwatch.model import AlertKey, Transition
from riskwatch.store.db import Store, _key_json
from riskwatch.store.rows import CorruptRow, _plain, _unplain

_T = TypeVar("_T")

ID_BYTES = 4  # 8 hex digits: short enough to type, and checked for collisions
KEEP_EXPIRED = 7 * 86400.0  # expired silences stay listed (--all) this long


def _key(text: str) -> AlertKey:
    key = json.loads(text)
    if not (isinstance(key, list) and len(key) == 5 and all(isinstance(p, str) for p in key)):
        raise ValueError("not an alert key")
    return tuple(key)


# --------------------------------------------------------------------------- silences


def add_silence(store: Store, silence: Silence) -> Silence:
    """Store ``silence`` under a fresh id (its own ``id`` is ignored); return it as stored."""
    data = {f.name: getattr(silence, f.name) for f in fields(Silence) if f.name != "id"}
    sid = ""

    def body(conn: sqlite3.Connection) -> None:
        nonlocal sid
        conn.execute("DELETE FROM silences WHERE ends_at < ?", (silence.starts_at - KEEP_EXPIRED,))
        while True:
            sid = secrets.token_hex(ID_BYTES)
            if not conn.execute("SELECT 1 FROM silences WHERE id = ?", (sid,)).fetchone():
                break
        conn.execute(
            "INSERT INTO silences (id, data, ends_at) VALUES (?, ?, ?)",
            (sid, json.dumps(data), silence.ends_at),
        )

    store._write("add silence", body)
    return Silence(id=sid, **data)


def silences(store: Store, *, now: float | None = None) -> list[Silence]:
    """Every stored silence (``now``: only those not yet ended), soonest end first."""
    where, params = ("WHERE ends_at > ?", (now,)) if now is not None else ("", ())
    rows = store._read(
        "read silences", f"SELECT id, data FROM silences {where} ORDER BY ends_at, id", params
    )
    return _readable(store, "silences", rows, _silence)


def _silence(sid: str, data: str) -> Silence:
    s = Silence(id=sid, **json.loads(data))
    if not (_number(s.starts_at) and _number(s.ends_at)):
        raise ValueError("its times are not numbers")
    if not all(isinstance(getattr(s, f.name), str) for f in fields(Silence) if f.type == "str"):
        raise ValueError("its matchers are not text")
    return s


def _number(value: object, *, optional: bool = False) -> bool:
    if value is None:
        return optional
    return isinstance(value, int | float) and not isinstance(value, bool)


def _readable(store: Store, table: str, rows: list, read: Callable[..., _T]) -> list[_T]:
    """Each row as ``read`` makes it; one it cannot read is set aside (quarantined, one
    warning) rather than raised: a bad row must stop neither the cycle nor the daemon's start,
    and losing it costs at most a line said again or not at all."""
    out: list[_T] = []
    for row in rows:
        try:
            out.append(read(*row))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            why = f"{type(exc).__name__}: {exc}"
            store._set_aside(CorruptRow(table, row[0], why), row[0], list(row))
    return out


def expire_silence(store: Store, prefix: str, now: float) -> Silence:
    """End the silence whose id is (or starts with) ``prefix`` now; ``StoreError`` when no
    active silence or more than one matches."""
    wanted = prefix.strip().lower()  # "" would be the beginning of every id
    found = [s for s in silences(store, now=now) if wanted and s.id.startswith(wanted)]
    if len(found) != 1:
        what = "no active silence" if not found else f"{len(found)} active silences"
        raise StoreError(f"{what} with id {prefix!r} (see riskwatch silence list)")
    s = found[0]
    data = {f.name: getattr(s, f.name) for f in fields(Silence) if f.name != "id"}
    data["ends_at"] = now

    def body(conn: sqlite3.Connection) -> None:
        conn.execute(
            "UPDATE silences SET data = ?, ends_at = ? WHERE id = ?", (json.dumps(data), now, s.id)
        )

    store._write("expire silence", body)
    return Silence(id=s.id, **data)


# --------------------------------------------------------------------------- acks


def add_ack(store: Store, key: AlertKey, by: str, at: float) -> None:
    def body(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO acks (key, by, at) VALUES (?, ?, ?)", (_key_json(key), by, at)
        )

    store._write("ack", body)


def acks(store: Store) -> dict[AlertKey, Ack]:
    rows = store._read("read acks", "SELECT key, by, at FROM acks")
    return {a.key: a for a in _readable(store, "acks", rows, _ack)}


def _ack(key: str, by: object, at: object) -> Ack:
    if not isinstance(by, str) or not _number(at):
        raise ValueError("not an ack")
    return Ack(key=_key(key), by=by, at=float(at))  # type: ignore[arg-type]


# --------------------------------------------------------------------------- memory


def _memory_json(m: Memory) -> str:
    d = asdict(m)
    if m.held_resolve is not None:
        d["held_resolve"] = {f.name: getattr(m.held_resolve, f.name) for f in fields(Transition)}
    return json.dumps(_deep(d))


def _deep(value: object) -> object:
    if isinstance(value, dict):
        return {k: _deep(v) for k, v in value.items()}
    return _plain(value)


def _memory(key: str, text: str) -> Memory:
    d = {k: _unplain(v) for k, v in json.loads(text).items()}
    held = d.get("held_resolve")
    if isinstance(held, dict):
        d["held_resolve"] = Transition(**{k: _unplain(v) for k, v in held.items()})
    d["key"] = _key(key)
    m = Memory(**d)
    if not _number(m.critical_since, optional=True):
        raise ValueError("its critical clock is not a number")
    return m


def memory(store: Store) -> dict[AlertKey, Memory]:
    rows = store._read("read answering memory", "SELECT key, data FROM answering")
    return {m.key: m for m in _readable(store, "answering", rows, _memory)}


def cycle_writer(
    old: Mapping[AlertKey, Memory],
    new: Mapping[AlertKey, Memory],
    cleared: Mapping[AlertKey, Ack],
) -> Callable[[sqlite3.Connection], None]:
    """The answering layer's part of a cycle's transaction: memory that changed, and the acks
    that ended (only as they were read: an ack given meanwhile is kept)."""
    gone = [(_key_json(k),) for k in old if k not in new]
    changed = [(_key_json(k), _memory_json(m)) for k, m in new.items() if old.get(k) != m]
    ended = [(_key_json(k), a.at) for k, a in cleared.items()]

    def write(conn: sqlite3.Connection) -> None:
        conn.executemany("DELETE FROM answering WHERE key = ?", gone)
        conn.executemany("INSERT OR REPLACE INTO answering (key, data) VALUES (?, ?)", changed)
        conn.executemany("DELETE FROM acks WHERE key = ? AND at <= ?", ended)

    return write
