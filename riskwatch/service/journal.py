"""A cycle's transitions as the trader and the operator will read them later: one history
record and one INFO log line each, with the very line the messages carry.

Why in the cycle: the history must hold exactly what was said and be committed with the alert
state it reports (one transaction), and a line is rendered once for every message, the log and
the history.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from riskwatch.model import Transition
from riskwatch.render.lines import EVENT_KINDS
from riskwatch.store import history

log = logging.getLogger("riskwatch.alerts")


def record(t: Transition, text: str) -> history.Record:
    """The history row of one line (an event when ``t`` is one, DESIGN 10)."""
    rule, product_type, subject, side, account = t.key
    return history.Record(
        at=t.at,
        kind=history.EVENT if t.kind in EVENT_KINDS else history.LINE,
        text=text,
        rule=rule,
        subject=subject,
        side=side,
        product_type=product_type,
        severity="resolved" if t.kind == "resolved" else t.severity,
        what=t.kind,
        channel=",".join(t.channels),
        account=account,
    )


def journal(transitions: Sequence[Transition], lines: Sequence[str]) -> list[history.Record]:
    """Log each transition at INFO (its kind and its line) and return its history rows."""
    out = []
    for t, text in zip(transitions, lines, strict=True):
        if log.isEnabledFor(logging.INFO):
            log.info("%s to %s: %s", t.kind, ",".join(t.channels) or "no channel", text)
        out.append(record(t, text))
    return out
