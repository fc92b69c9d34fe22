"""Answering back (DESIGN 12) as plain data: silences, acks and what the answering layer
remembers of each alert, shared by the pure layer that decides (``core.answering``) and the
store that keeps them (``store.silences``), like ``model`` but split from it along this seam.
"""

from __future__ import annotations

from dataclasses import dataclass

from riskwatch.model import AlertKey, Transition


@dataclass(frozen=True, slots=True)
class Silence:
    id: str
    starts_at: float
    ends_at: float
    rule: str = ""  # globs, case-insensitive; "" matches anything
    symbol: str = ""
    side: str = ""
    account: str = ""
    comment: str = ""
    created_by: str = ""

    def active(self, now: float) -> bool:
        return self.starts_at <= now < self.ends_at

    def matchers(self) -> str:
        """``rule=near-* symbol=BTC*`` (what ``silence list`` shows); ``(everything)``."""
        pairs = [
            f"{name}={glob}"
            for name, glob in (
                ("rule", self.rule),
                ("symbol", self.symbol),
                ("side", self.side),
                ("account", self.account),
            )
            if glob
        ]
        return " ".join(pairs) or "(everything)"


@dataclass(frozen=True, slots=True)
class Ack:
    key: AlertKey
    by: str
    at: float


@dataclass(frozen=True, slots=True)
class AnswerMemory:
    """What the answering layer remembers of one alert between cycles (plain data)."""

    key: AlertKey
    silenced: bool = False  # a silence covered it while firing, at the last cycle
    held: bool = False  # warning lines were held in quiet hours
    told: bool = False  # some line about it went out
    critical_since: float | None = None
    escalated: bool = False  # the escalation line went out for this critical spell
    held_resolve: Transition | None = None  # a resolve held in quiet hours

    def idle(self) -> bool:
        return self == AnswerMemory(self.key)
