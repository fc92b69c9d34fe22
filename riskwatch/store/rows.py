"""Stored rows <-> model values, every read checked: a row is either exactly what riskwatch
wrote or a ``CorruptRow`` naming its table and id.

Why check on read: SQLite is dynamically typed and the file is the user's (a restore from an old
backup, a hand edit, a disk error): a ``since`` stored as text or ``keys`` that are not JSON
would otherwise surface cycles later as a TypeError deep in the engine or the delivery worker,
and end the daemon. Checked here, the store can set the row aside and say so once.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, fields
from typing import Any

from riskwatch.errors import StoreError
from riskwatch.model import AlertKey, AlertState, NotifyType


class CorruptRow(ValueError):
    """One stored row that cannot be read back; ``table`` and ``row_id`` name it."""

    def __init__(self, table: str, row_id: object, why: str) -> None:
        self.table = table
        self.row_id = str(row_id)[:80]
        self.why = why[:160]
        super().__init__(f"corrupt row in {table} (id {self.row_id}): {self.why}")


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One queued message for one URL (by its destination key)."""

    id: int
    dest_key: str
    channel: str
    title: str
    body: str
    created_at: float
    attempts: int
    next_attempt_at: float
    last_error: str | None
    keys: tuple[AlertKey, ...]
    parts_sent: int  # parts of a split message already accepted (not resent on retry)
    notify_type: NotifyType = "info"
    sends: int = 0  # send attempts made so far (each retry within a cycle counts)
    uncertain: int = 0  # sends that got no answer in time (it may have arrived): retried once


# --------------------------------------------------------------------------- alert state


def _plain(value: Any) -> Any:
    """Tuples become tagged lists so that reloading restores tuples exactly (JSON has none)."""
    if isinstance(value, tuple):
        return {"t": [_plain(v) for v in value]}
    return value


def _unplain(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"t"}:
        return tuple(_unplain(v) for v in value["t"])
    if isinstance(value, list):
        return [_unplain(v) for v in value]
    return value


def state_to_json(state: AlertState) -> str:
    return json.dumps({f.name: _plain(getattr(state, f.name)) for f in fields(AlertState)})


def state_from_json(text: str) -> AlertState:
    data = json.loads(text)
    return AlertState(
        **{f.name: _unplain(data[f.name]) for f in fields(AlertState) if f.name in data}
    )


def _number(v: object, optional: bool = False) -> bool:
    if v is None:
        return optional
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _strings(v: object, n: int | None = None) -> bool:
    return (
        isinstance(v, tuple) and all(isinstance(x, str) for x in v) and (n is None or len(v) == n)
    )


def alert_row(key: str, data: object) -> AlertState:
    """An ``alerts`` row as the AlertState it holds, or ``CorruptRow``."""
    try:
        if not isinstance(data, str):
            raise ValueError("data is not text")
        s = state_from_json(data)
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise CorruptRow("alerts", key, f"data unreadable ({type(exc).__name__})") from None
    problem = _state_problem(s)
    if problem:
        raise CorruptRow("alerts", key, problem)
    return s


def _state_problem(s: AlertState) -> str | None:
    if not _strings(s.key, 5):
        return "key is not five strings (rule, product type, subject, side, account)"
    if s.status not in ("pending", "firing") or s.severity not in ("warning", "critical"):
        return "status or severity unknown"
    if not _number(s.since):
        return "since is not a number"
    for name in ("value", "last_sent_at", "last_sent_value"):
        if not _number(getattr(s, name), optional=True):
            return f"{name} is not a number"
    if not _strings(s.channels):
        return "channels are not strings"
    if not isinstance(s.context, tuple) or not all(
        isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str) for p in s.context
    ):
        return "context is not a list of pairs"
    if not all(p[1] is None or isinstance(p[1], str | int | float) for p in s.context):
        return "a context value is not a number or text"  # a resolve line would render it
    if not all(isinstance(getattr(s, n), str) for n in ("metric", "op", "scope")):
        return "rule identity is not text"
    return None


# --------------------------------------------------------------------------- outbox

OUTBOX_COLUMNS = (
    "id, dest_key, channel, title, body, created_at, attempts, next_attempt_at, last_error,"
    " keys, parts_sent, notify_type, sends, uncertain"
)
_NOTIFY_TYPES = ("info", "success", "warning", "failure")


def outbox_row(row: tuple[Any, ...]) -> OutboxItem:
    """An ``outbox`` row (``OUTBOX_COLUMNS``) as an OutboxItem, or ``CorruptRow``."""
    rid, dest, channel, title, body, created, attempts, due, error, keys, parts, kind, sends = row[
        :13
    ]
    unsure = row[13]
    problem = None
    if not all(isinstance(v, str) for v in (dest, channel, title, body)):
        problem = "a text column is not text"
    elif not (_number(created) and _number(due)):
        problem = "created_at or next_attempt_at is not a number"
    elif not all(isinstance(n, int) and n >= 0 for n in (attempts, parts, sends, unsure)):
        problem = "attempts, parts_sent or sends is not a count"
    elif kind not in _NOTIFY_TYPES:
        problem = "notify_type is unknown"
    elif error is not None and not isinstance(error, str):
        problem = "last_error is not text"
    if problem:
        raise CorruptRow("outbox", rid, problem)
    try:
        parsed = json.loads(keys) if isinstance(keys, str) else None
        if not isinstance(parsed, list):
            raise ValueError
        key_tuples: tuple[AlertKey, ...] = tuple(tuple(k) for k in parsed)
        if not all(all(isinstance(x, str) for x in k) for k in key_tuples):
            raise ValueError
    except (ValueError, TypeError, RecursionError):
        raise CorruptRow("outbox", rid, "keys is not a JSON list of alert keys") from None
    return OutboxItem(
        id=rid,
        dest_key=dest,
        channel=channel,
        title=title,
        body=body,
        created_at=float(created),
        attempts=attempts,
        next_attempt_at=float(due),
        last_error=error,
        keys=key_tuples,
        parts_sent=parts,
        notify_type=kind,
        sends=sends,
        uncertain=unsure,
    )


# --------------------------------------------------------------------------- history

_HISTORY_TEXT = (
    "kind", "text", "rule", "subject", "side", "product_type", "severity", "what", "channel",
    "dest_key",
)  # fmt: skip


def history_problem(rec: Any) -> str | None:
    """What is wrong with a history record read back (None: nothing)."""
    if not _number(rec.at):
        return "at is not a number"
    if not all(isinstance(getattr(rec, n), str) for n in _HISTORY_TEXT):
        return "a text column is not text"
    if not (_number(rec.queued_at, optional=True) and _number(rec.seconds, optional=True)):
        return "queued_at or seconds is not a number"
    if rec.attempts is not None and not (isinstance(rec.attempts, int) and rec.attempts >= 0):
        return "attempts is not a count"
    return None


def checked_history(path: str, records: list[Any], corrupt: list[StoreError]) -> list[Any]:
    """``records`` without the corrupt ones, each named once in ``corrupt``."""
    out = []
    for rec in records:
        problem = history_problem(rec)
        if problem is None:
            out.append(rec)
            continue
        error = StoreError(f"{path}: corrupt row in history (at {rec.at!r:.40}): {problem}")
        if all(str(e) != str(error) for e in corrupt):
            corrupt.append(error)
    return out
