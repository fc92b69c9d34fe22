"""Events (DESIGN section 10): why a position vanished or shrank, decided from its fills. Pure.

A position that a successful fetch no longer lists, or lists smaller, is a ``Change``: "it went,
the reason is not yet known". The change is kept (and persisted by the service) until the fills
of that symbol since the position was last seen at its old size say why: Bitget marks forced
closes in each fill's ``tradeSide`` (hedge mode ``burst_close_long``, one-way mode
``burst_sell_single``...; see ``TRADE_SIDES``). ``decide`` turns a change and the fills into an
``Event`` (or ``None``: no fill visible yet, ask again next cycle), ``event_transition`` makes
the event a line of the cycle's message, and ``end_alerts`` ends the vanished position's firing
alerts marked with what happened, never as a plain good-news "resolved". No clock, no I/O:
``now`` is an argument, fills come in as data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from operator import attrgetter
from typing import Literal

from riskwatch.core.lifecycle import Lifecycle, lists, orphan, resolve
from riskwatch.core.roll import PRODUCT_TYPE, roll
from riskwatch.model import (
    AlertKey,
    AlertState,
    Defaults,
    Fill,
    Position,
    Rule,
    Severity,
    Snapshot,
    Transition,
)

EventKind = Literal[
    "liquidated",
    "partially-liquidated",
    "force-netted",
    "auto-deleveraged",
    "delivered",
    "closed",
    "unknown",
]
Category = Literal["burst", "reduce", "offset", "adl", "delivery", "close"]
Subject = tuple[str, str, str]  # (product_type, symbol, side)
Route = Callable[[Position], Sequence[str]]  # a position -> the channels of its events

# Bitget's documented tradeSide values (v2 fills, and the futures ``fill`` channel, which lists
# the whole enum): what each says and which side it closes (None: either). ``open`` adds.
TRADE_SIDES: Mapping[str, tuple[Category, str | None]] = {
    "close": ("close", None),
    "buy_single": ("close", "short"),
    "sell_single": ("close", "long"),
    "burst_close_long": ("burst", "long"),
    "burst_close_short": ("burst", "short"),
    "burst_sell_single": ("burst", "long"),
    "burst_buy_single": ("burst", "short"),
    "reduce_close_long": ("reduce", "long"),
    "reduce_close_short": ("reduce", "short"),
    "reduce_sell_single": ("reduce", "long"),
    "reduce_buy_single": ("reduce", "short"),
    "offset_close_long": ("offset", "long"),
    "offset_close_short": ("offset", "short"),
    "dte_sys_adl_close_long": ("adl", "long"),
    "dte_sys_adl_close_short": ("adl", "short"),
    "dte_sys_adl_sell_in_single_side_mode": ("adl", "long"),
    "dte_sys_adl_buy_in_single_side_mode": ("adl", "short"),
    "delivery_close_long": ("delivery", "long"),
    "delivery_close_short": ("delivery", "short"),
    "delivery_sell_single": ("delivery", "long"),
    "delivery_buy_single": ("delivery", "short"),
}
# Strongest first: a liquidation that also netted legs is told as a liquidation.
_PRECEDENCE: tuple[Category, ...] = ("burst", "reduce", "offset", "adl", "delivery", "close")
SEVERITY: Mapping[str, Severity] = {
    "liquidated": "critical",
    "partially-liquidated": "critical",
    "force-netted": "critical",
    "auto-deleveraged": "critical",
    "delivered": "warning",
    "unknown": "critical",
}
# What a vanished position's firing alerts end with (the resolve line's reason).
ALERT_REASON: Mapping[str, str] = {
    "liquidated": "liquidated",
    "partially-liquidated": "liquidated",
    "force-netted": "force-netted",
    "auto-deleveraged": "auto-deleveraged",
    "delivered": "delivered",
    "closed": "position closed",
    "unknown": "closed?",
}
FORCED_REASONS = frozenset(r for k, r in ALERT_REASON.items() if k != "closed")
MAX_ATTEMPTS = 3  # cycles to wait for the fills before saying "reason unknown"
SLACK = 2.0  # seconds before "last seen" still counted (the two clocks differ a little)
FILLS_UNAVAILABLE = "fills unavailable"
NO_FILL = "no fill found"


def category(fill: Fill) -> tuple[Category, str | None]:
    """What a fill says, from its ``tradeSide`` (or, on v3, its order's ``execType``)."""
    ts = fill.trade_side.lower()
    known = TRADE_SIDES.get(ts)
    if known is not None:
        return known
    side = fill.hold_side or None
    if "adl" in ts:
        return "adl", side
    if ts.startswith("burst") or ts in ("liquidation", "liquidate"):
        return "burst", side
    for cat in ("reduce", "offset", "delivery"):
        if ts.startswith(cat):
            return cat, side
    return "close", side


# --------------------------------------------------------------------------- changes


@dataclass(frozen=True, slots=True)
class Change:
    """A position that vanished (``size_after`` 0) or shrank; why is not yet known."""

    product_type: str
    symbol: str
    side: str
    margin_coin: str
    size_before: Decimal
    size_after: Decimal
    liquidation_price: Decimal | None
    mark_price: Decimal
    since: float  # when the position was last seen at ``size_before``: fills from here
    seen_at: float  # when the change was noticed
    channels: tuple[str, ...] = ()
    attempts: int = 0  # fills reads that told nothing yet
    account: str = "default"  # whose position it was (DESIGN 14; model.DEFAULT_ACCOUNT)

    @property
    def subject(self) -> Subject:
        return (self.product_type, self.symbol, self.side)

    @property
    def vanished(self) -> bool:
        return self.size_after <= 0


_SUBJECT = attrgetter("product_type", "symbol", "side")


def detect(
    previous: Snapshot | None,
    snapshot: Snapshot,
    channels_for: Route | None = None,
) -> list[Change]:
    """The positions of ``previous`` that ``snapshot`` no longer lists (where its product type
    was read whole) or lists smaller. ``channels_for(position)`` routes each change (``fold``
    joins one to a change of the same position still pending). A quiet cycle returns ``[]``."""
    if previous is None or not previous.positions:
        return []
    old, new = previous.positions, snapshot.positions
    if len(old) == len(new) and roll(old) == roll(new):
        return []  # the quiet cycle: the same positions in the same order, none smaller
    sizes = {_SUBJECT(p): p.total for p in new}
    out: list[Change] = []
    for p in old:
        current = sizes.get(_SUBJECT(p))
        if current is not None and current >= p.total:
            continue
        if current is None:
            if not lists(snapshot, p.product_type, p.symbol):
                continue  # not read whole: missing is not gone (DESIGN section 8)
            after = Decimal(0)
        else:
            after = current
        out.append(
            Change(
                product_type=p.product_type,
                symbol=p.symbol,
                side=p.side,
                margin_coin=p.margin_coin,
                size_before=p.total,
                size_after=after,
                liquidation_price=p.liquidation_price,
                mark_price=p.mark_price,
                since=previous.taken_at,
                seen_at=snapshot.taken_at,
                channels=tuple(channels_for(p)) if channels_for else (),
            )
        )
    return out


def fold(pending: Sequence[Change], new: Iterable[Change]) -> list[Change]:
    """The pending changes after this cycle's. Bitget liquidates in stages (a reduction, then
    the close): a pending shrink that shrinks again or vanishes keeps its first sighting (the
    fills are read from there) and takes the new size, so the vanish is told, never lost
    behind it (a pending vanish stays one: a position reopened meanwhile is another)."""
    out = {c.subject: c for c in pending}
    for c in new:
        old = out.get(c.subject)
        if old is None:
            out[c.subject] = c
        elif not old.vanished:
            out[c.subject] = replace(c, size_before=old.size_before, since=old.since)
    return list(out.values())


def carry(previous: Snapshot | None, snapshot: Snapshot) -> Snapshot:
    """What to compare the next snapshot with: this one, plus the positions of product types
    it did not read whole (a missing row there is not a vanish, but it may vanish later and
    must still be noticed then). Their fills are read from the older sighting's time."""
    if previous is None:
        return snapshot
    if not snapshot.unreadable and set(map(PRODUCT_TYPE, previous.positions)) <= snapshot.fetched:
        return snapshot  # the usual cycle: every product type read whole, nothing to keep
    listed = set(map(_SUBJECT, snapshot.positions))
    kept = tuple(
        p
        for p in previous.positions
        if not lists(snapshot, p.product_type, p.symbol) and _SUBJECT(p) not in listed
    )
    if not kept:
        return snapshot
    return replace(
        snapshot,
        taken_at=min(previous.taken_at, snapshot.taken_at),
        positions=snapshot.positions + kept,
    )


def channels_for(
    rules: Sequence[Rule], defaults: Defaults, matches: Callable[[Rule, Position], bool]
) -> Route:
    """Routing (DESIGN 10): the *critical* channels of every position rule ``matches`` the
    position (a liquidation pages as a critical would), else the defaults' critical ones."""

    def route(p: Position) -> list[str]:
        out: list[str] = []
        for rule in rules:
            if rule.scope == "position" and matches(rule, p):
                out += [c for c in Lifecycle.of(rule, defaults).route("critical") if c not in out]
        return out or list(default_channels(defaults))

    return route


def default_channels(defaults: Defaults) -> tuple[str, ...]:
    return defaults.channels_for("critical")  # where an event no rule routes goes


# --------------------------------------------------------------------------- decisions


@dataclass(frozen=True, slots=True)
class Event:
    kind: EventKind
    change: Change
    at: float
    size: Decimal  # how much went
    price: Decimal | None = None  # volume-weighted price of the telling fills
    realized: Decimal | None = None  # their realized PnL, summed
    why: str = ""  # for "unknown": fills unavailable / no fill found

    @property
    def severity(self) -> Severity | None:
        return SEVERITY.get(self.kind)


def relevant(change: Change, fills: Iterable[Fill]) -> list[tuple[Category, Fill]]:
    """The fills that may say why ``change`` happened, each with what it says."""
    out = []
    for f in fills:
        if f.symbol.upper() != change.symbol.upper() or f.at < change.since - SLACK:
            continue
        if f.trade_side.lower() == "open":  # hedge mode's opening fill says nothing of a close
            continue
        if f.product_type and f.product_type != change.product_type:
            continue
        cat, side = category(f)
        if side is not None and side != change.side:
            continue
        out.append((cat, f))
    return out


def _kind(cat: Category, vanished: bool) -> EventKind:
    if cat in ("burst", "reduce"):
        return "liquidated" if vanished else "partially-liquidated"
    return {
        "offset": "force-netted",
        "adl": "auto-deleveraged",
        "delivery": "delivered",
    }.get(cat, "closed")  # type: ignore[return-value]


def decide(change: Change, fills: Sequence[Fill] | None, now: float) -> Event | None:
    """The event for ``change`` given the fills read this cycle (``None``: they could not be
    read). ``None`` back means "ask again next cycle" (no fill visible yet, or the read failed
    and the change has attempts left); after ``MAX_ATTEMPTS`` the reason is "unknown"."""
    went = change.size_before - max(change.size_after, Decimal(0))
    if fills is None:
        if change.attempts + 1 >= MAX_ATTEMPTS:
            return Event("unknown", change, now, went, why=FILLS_UNAVAILABLE)
        return None
    found = relevant(change, fills)
    if not found:
        if change.attempts + 1 >= MAX_ATTEMPTS:
            return Event("unknown", change, now, went, why=NO_FILL)
        return None
    cats = {c for c, _ in found}
    top = next(c for c in _PRECEDENCE if c in cats)
    kind = _kind(top, change.vanished)  # a reduction then a burst: one liquidation, all fills
    telling = [f for c, f in found if _kind(c, change.vanished) == kind]
    volume = sum((f.size for f in telling), Decimal(0))
    price = sum((f.price * f.size for f in telling), Decimal(0)) / volume if volume else None
    profits = [f.profit for f in telling if f.profit is not None]
    realized = sum(profits, Decimal(0)) if profits else None
    return Event(kind, change, now, went, price, realized)


def retry(change: Change) -> Change:
    return replace(change, attempts=change.attempts + 1)


# --------------------------------------------------------------------------- lines


def _num(d: Decimal | None) -> float | str | None:
    return None if d is None else float(d)


def event_transition(event: Event) -> Transition | None:
    """The event as a line of the cycle's message, or ``None`` for a trader's close (its alerts
    resolve as today: the trader knows). Events always go out: never silenced, never held by
    ``send_resolved``."""
    sev = event.severity
    if sev is None:
        return None
    c = event.change
    fields: tuple[tuple[str, str | float | None], ...] = (
        ("symbol", c.symbol),
        ("side", c.side),
        ("product_type", c.product_type),
        ("margin_coin", c.margin_coin),
        ("event", event.kind),
        ("size", _num(event.size)),
        ("size_before", _num(c.size_before)),
        ("size_after", _num(c.size_after)),
        ("vanished", "yes" if c.vanished else "no"),
        ("price", _num(event.price)),
        ("liquidationPrice", _num(c.liquidation_price)),
        ("markPrice", _num(c.mark_price)),
        ("realized", _num(event.realized)),
        ("why", event.why),
    )
    return Transition(
        key=(f"event:{event.kind}", c.product_type, c.symbol, c.side, c.account),
        kind="event",
        severity=sev,
        previous_severity=None,
        rule="",
        metric="",
        value=None,
        threshold=None,
        op=None,
        at=event.at,
        channels=c.channels,
        reason=event.kind,
        fields=fields,
    )


def end_alerts(
    state: Mapping[AlertKey, AlertState],
    event: Event,
    rules: Sequence[Rule],
    defaults: Defaults,
    now: float,
) -> tuple[list[Transition], dict[AlertKey, AlertState]]:
    """End the alerts of a vanished position, their lines marked with what happened
    (``resolved (liquidated)``, ``closed?``); a trader's close resolves as ``position closed``.
    Pending alerts end silently. A rule with ``send_resolved: false`` sends no alert line (the
    event line still goes)."""
    subject = (*event.change.subject, event.change.account)
    by_name = {r.name: r for r in rules}
    reason = ALERT_REASON[event.kind]
    out: list[Transition] = []
    nxt = dict(state)
    for key, prev in state.items():
        if tuple(key[1:]) != subject:
            continue
        del nxt[key]
        rule = by_name.get(key[0])
        lc = Lifecycle.of(rule, defaults) if rule is not None else orphan(prev, defaults)
        t = resolve(lc, prev, now, reason)
        if t is not None:
            out.append(t)
    return out, nxt
