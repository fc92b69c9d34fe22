"""Builders for engine, lifecycle and render tests: positions by gap, snapshots, one cycle."""

from __future__ import annotations

from decimal import Decimal as D

from riskwatch.core import engine
from riskwatch.model import (
    Account,
    AlertKey,
    AlertState,
    Defaults,
    Health,
    Position,
    Rule,
    Snapshot,
    Transition,
)

PT = "USDT-FUTURES"
FETCHED = frozenset({PT})
DEFAULTS = Defaults(channels=("phone",))


def pos(symbol: str = "BTCUSDT", gap: float | None = 20.0, side: str = "long", **kw: object):
    """A position whose liq_gap_pct is ``gap`` (mark 1000; ``None``: no liquidation price)."""
    mark = D("1000")
    if gap is None:
        liq = None
    else:
        delta = D(repr(gap)) * 10  # 1 % of 1000
        liq = mark - delta if side == "long" else mark + delta
    base: dict[str, object] = dict(
        product_type=PT,
        symbol=symbol,
        side=side,
        margin_coin="USDT",
        total=D("1"),
        mark_price=mark,
        liquidation_price=liq,
        leverage=D("10"),
    )
    base.update(kw)
    return Position(**base)  # type: ignore[arg-type]


def snap(
    *positions: Position,
    accounts: tuple[Account, ...] = (),
    fetched=FETCHED,
    accounts_fetched=None,
) -> Snapshot:
    """A poll that read ``fetched`` whole, accounts too unless ``accounts_fetched`` says."""
    return Snapshot(
        taken_at=0.0,
        positions=positions,
        accounts=accounts,
        fetched=fetched,
        accounts_fetched=fetched if accounts_fetched is None else accounts_fetched,
    )


def gap_rule(**kw: object) -> Rule:
    base: dict[str, object] = dict(
        name="near", metric="liq_gap_pct", op="<", warning=15.0, critical=5.0, channels=("phone",)
    )
    base.update(kw)
    return Rule(**base)  # type: ignore[arg-type]


def key(
    rule: str = "near", symbol: str = "BTCUSDT", side: str = "long", account: str = "default"
) -> AlertKey:
    return (rule, PT, symbol, side, account)


class Run:
    """Feeds cycles to the engine, carrying state, and keeps what each cycle said."""

    def __init__(self, *rules: Rule, defaults: Defaults = DEFAULTS) -> None:
        self.rules = tuple(rules)
        self.state: dict[AlertKey, AlertState] = {}
        self.defaults = defaults
        self.last: Snapshot | None = None  # the previous good snapshot, as the Watcher keeps

    def cycle(
        self,
        now: float,
        snapshot: Snapshot | None,
        *,
        rules: tuple[Rule, ...] | None = None,
        health: Health | None = None,
        stale_after: float = 120.0,
    ) -> list[Transition]:
        if rules is not None:
            self.rules = rules
        out, self.state = engine.evaluate(
            self.rules,
            snapshot,
            self.state,
            now,
            health=health,
            defaults=self.defaults,
            stale_after=stale_after,
            previous=self.last,
        )
        if snapshot is not None:
            self.last = snapshot
        return out

    def gap(self, now: float, gap: float | None, **kw: object) -> list[str]:
        """One BTCUSDT long at ``gap``; returns the kinds said (``kind:severity``)."""
        return kinds(self.cycle(now, snap(pos(gap=gap)), **kw))  # type: ignore[arg-type]


def kinds(transitions: list[Transition]) -> list[str]:
    return [f"{t.kind}:{t.severity}" for t in transitions]
