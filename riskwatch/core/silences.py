"""Silences (DESIGN 12, Alertmanager's idea in amtool's shape): which alerts one covers. Pure.

A silence is a set of globs over the alert's rule, symbol, side and account (an empty glob
matches anything) and a time span. It mutes lines, never the lifecycle: the engine goes on
evaluating, and the answering layer (``core.answering``) decides what is sent. Built-in
alerts (``riskwatch-*``) and events are never silenced: they are how riskwatch says it is
blind or that something already happened.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping

from riskwatch.answers import Silence
from riskwatch.core.selfalerts import NAMES as BUILTINS
from riskwatch.model import DEFAULT_ACCOUNT, AlertKey, AlertState

__all__ = ["DEFAULT_ACCOUNT", "Silence", "covers", "firing_matches", "silencing"]


def _glob(pattern: str, value: str) -> bool:
    return not pattern or fnmatch.fnmatchcase(value.lower(), pattern.lower())


def covers(s: Silence, key: AlertKey) -> bool:
    """Whether ``s`` matches the alert ``key`` (rule, product type, symbol or coin, side,
    account: DESIGN 14)."""
    if key[0] in BUILTINS:
        return False
    return (
        _glob(s.rule, key[0])
        and _glob(s.symbol, key[2])
        and _glob(s.side, key[3])
        and _glob(s.account, key[4])
    )


def silencing(silences: Iterable[Silence], key: AlertKey, now: float) -> Silence | None:
    """The first active silence covering ``key``, if any."""
    return next((s for s in silences if s.active(now) and covers(s, key)), None)


def firing_matches(
    state: Mapping[AlertKey, AlertState], rule: str, subject: str, side: str = ""
) -> list[AlertState]:
    """The firing alerts ``ack RULE SYMBOL [SIDE]`` (or a button, or /ack) means: the rule and
    symbol (or margin coin, for account rules) by name, case-insensitive; no side: both."""
    rule, subject, side = rule.lower(), subject.lower(), side.lower()
    return sorted(
        (
            a
            for a in state.values()
            if a.status == "firing"
            and a.key[0].lower() == rule
            and a.key[2].lower() == subject
            and (not side or a.key[3].lower() == side)
        ),
        key=lambda a: a.key,
    )
