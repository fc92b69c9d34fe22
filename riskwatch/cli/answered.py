"""What ``status`` says of answering back: the acked alerts and the active silences."""

from __future__ import annotations

from riskwatch.store import silences as stored
from riskwatch.store.db import Store


def answering_lines(store: Store, now: float) -> list[str]:
    """Lines for ``status`` (empty when nothing is acked or silenced), each block after a
    blank line."""
    from riskwatch.cli.silence import silence_table
    from riskwatch.cli.status import _when, table

    out: list[str] = []
    acks = sorted(stored.acks(store).values(), key=lambda a: a.key)
    if acks:
        rows = [(a.key[0], a.key[2] or "-", a.key[3] or "-", a.by, _when(a.at)) for a in acks]
        head = ("RULE", "SYMBOL", "SIDE", "ACKED BY", "AT")
        out += ["", f"Acknowledged ({len(acks)}):", *table(head, rows)]
    active = stored.silences(store, now=now)
    if active:
        out += ["", *silence_table(active, now)]
    return out
