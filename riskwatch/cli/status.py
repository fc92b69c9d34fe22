"""``riskwatch status``: firing alerts and undelivered messages, read from the state dir.

Why it needs no secret: it reads only the state dir (which never holds one). With
``--state-dir`` it reads no config at all; otherwise the config is loaded with unset
``${VARS}`` tolerated, only to find ``state_dir`` (a missing or invalid rules file falls back to
the default state dir, with one line on stderr). It never creates the state dir.
Exit 0, also when nothing is stored yet.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, datetime
from typing import TextIO

from riskwatch.cli.answered import answering_lines
from riskwatch.errors import ConfigError
from riskwatch.model import DEFAULT_ACCOUNT, AlertKey, AlertState
from riskwatch.store import history
from riskwatch.store.accounts import last_polls
from riskwatch.store.db import FILENAME, OutboxItem, Store


def run(args: argparse.Namespace, out: TextIO | None = None, now: float | None = None) -> int:
    state_dir = args.state_dir or _state_dir_of(args.config, sys.stderr)
    now = time.time() if now is None else now
    lines = report(state_dir, now)
    print("\n".join(lines), file=out)
    return 0


def _state_dir_of(path: str, err: TextIO, command: str = "status") -> str:
    """The rules file's ``state_dir``; when the file is missing or invalid (exactly when an
    operator runs ``status``), the default state dir, said on ``err`` in one line that names
    the ``command`` (``silence add`` writes there: it must not read as ``status``)."""
    from riskwatch.config import load as config

    try:
        cfg = config.load(path, strict_env=False)
    except ConfigError as exc:
        fallback = config.default_state_dir(os.environ)
        print(
            f"{command}: the rules file could not be used ({exc.problems[0]}); "
            f"{'showing' if command == 'status' else 'using'} the default state dir {fallback}",
            file=err,
            flush=True,
        )
        return fallback
    return cfg.state_dir


def report(state_dir: str, now: float) -> list[str]:
    if not os.path.exists(os.path.join(state_dir, FILENAME)):
        return [
            f"state dir {state_dir}: nothing stored yet",
            "No firing alerts.",
            "No undelivered messages.",
        ]
    store = Store.open(state_dir, quarantine=False)  # the daemon's to move: only show them
    try:
        state = store.load_state()
        outbox = store.undelivered()
        polls = {name: _finite(v) for name, v in last_polls(store).items()}
        stream = store.get_meta("stream")
        answered = answering_lines(store, now)
        corrupt = [str(e) for e in store.corrupt]
        quarantined = store.quarantined()
        dropped = dropped_sends(store, state.values())
    finally:
        store.close()
    lines = [f"state dir {state_dir}"]
    for name, last in sorted(polls.items()):
        if last is not None:
            whose = f" of account {name}" if set(polls) != {DEFAULT_ACCOUNT} else ""
            lines.append(f"last successful poll{whose}: {_when(last)} ({_age(now - last)} ago)")
    if stream:
        lines.append(stream_line(stream, now))
    lines += [f"unreadable: {text}" for text in corrupt]
    if quarantined:
        lines.append(f"{quarantined} corrupt row(s) set aside in the quarantine table")
    lines.append("")
    queued = {k for item in outbox for k in item.keys}
    lines += firing_table(state.values(), now, queued, dropped)
    pending = sum(1 for a in state.values() if a.status == "pending")
    if pending:
        lines.append(f"{pending} more pending (condition holds, its `for` not yet elapsed)")
    lines += answered
    lines.append("")
    lines += outbox_table(outbox, now)
    return lines


def stream_line(stored: str, now: float) -> str:
    """``feed: stream``'s last known state, as the daemon stored it ("up", "down SINCE WHY")."""
    if stored == "up":
        return "stream: up (WebSocket marks between polls)"
    _, since, why = [*stored.split(" ", 2), "", ""][:3]
    try:
        when = float(since)
    except ValueError:
        return "stream: down; polling goes on"
    return f"stream: down since {_when(when)} ({_age(now - when)}): {why}; polling goes on"


def dropped_sends(store: Store, alerts: Iterable[AlertState]) -> set[tuple[float, str]]:
    """(queued at, channel) of every message dropped undelivered (send_ttl, a URL removed)
    since the oldest last message of a firing alert: the history's word for it."""
    sent = [a.last_sent_at for a in alerts if a.status == "firing" and a.last_sent_at is not None]
    if not sent:
        return set()
    return {
        (r.queued_at, r.channel)
        for r in store.read_history(min(sent))
        if r.kind == history.DROPPED and r.queued_at is not None
    }


def firing_table(
    alerts: Iterable[AlertState],
    now: float,
    queued: Collection[AlertKey] = (),
    dropped: Collection[tuple[float, str]] = (),
) -> list[str]:
    """``queued``: the alerts named by an undelivered message; their LAST SENT says
    ``queued 10s ago`` (its message waits in the outbox), never that it was sent. ``dropped``
    (from ``dropped_sends``): an alert whose last message one of its channels never got says
    ``dropped``, never ``sent``."""
    firing = sorted((a for a in alerts if a.status == "firing"), key=lambda a: (a.since, a.key))
    if not firing:
        return ["No firing alerts."]
    rows: list[tuple[str, ...]] = [
        (
            a.key[0],
            a.key[2] or "-",
            a.key[3] or "-",
            a.severity,
            f"{_when(a.since)} ({_age(now - a.since)})",
            _last_sent(a, now, _fate(a, queued, dropped)),
            a.key[4] or "-",
        )
        for a in firing
    ]
    head: tuple[str, ...] = ("RULE", "SYMBOL", "SIDE", "SEVERITY", "SINCE", "LAST SENT", "ACCOUNT")
    if all(a.key[4] in (DEFAULT_ACCOUNT, "") for a in firing):  # one account: as before
        head, rows = head[:-1], [r[:-1] for r in rows]
    return [f"Firing alerts ({len(firing)}):", *table(head, rows)]


def _fate(
    a: AlertState, queued: Collection[AlertKey], dropped: Collection[tuple[float, str]]
) -> str:
    if a.key in queued:
        return "queued"
    if any((a.last_sent_at, channel) in dropped for channel in a.channels):
        return "dropped, queued"
    return "sent"


def _last_sent(a: AlertState, now: float, fate: str) -> str:
    if a.last_sent_at is None:
        return "-"
    return f"{fate} {_age(now - a.last_sent_at)} ago"


def outbox_table(items: Sequence[OutboxItem], now: float) -> list[str]:
    if not items:
        return ["No undelivered messages."]
    rows = [
        (
            i.channel or "-",
            _age(now - i.created_at),
            str(i.sends),
            "now" if i.next_attempt_at <= now else f"in {_age(i.next_attempt_at - now)}",
            (i.last_error or "-")[:120],
        )
        for i in items
    ]
    head = ("CHANNEL", "AGE", "ATTEMPTS", "NEXT TRY", "LAST ERROR")
    return [f"Undelivered messages ({len(items)}):", *table(head, rows)]  # ATTEMPTS: every send


def table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(str(r[c])) for r in [head, *rows]) for c in range(len(head))]
    return [
        "  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)).rstrip()
        for r in [head, *rows]
    ]


def _finite(text: str | None) -> float | None:
    try:
        value = float(text) if text else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _age(seconds: float) -> str:
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"
