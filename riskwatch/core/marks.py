"""Mark-price ticks between polls (DESIGN 13): a position re-marked, and a snapshot re-marked.

A tick carries only a new mark. What depends on it is recomputed here, with everything else as
the last poll reported it: ``liq_gap_pct`` and ``notional`` follow from the new mark (the
metrics read ``mark_price``), ``unrealizedPL`` moves by the mark's change times the size (the
poll's figure plus the delta, so fees and funding Bitget folded into it stay), and
``unrealizedPLR`` is that over the margin. The liquidation price is the last one polled: exact
for an isolated position (its liquidation price does not move with the mark), an estimate for a
cross position, whose liquidation price moves with the account's equity until the next poll.

Pure: no clock, no I/O. Times are POSIX seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal

from riskwatch.model import Position, Snapshot

# Inverse (coin-margined) contracts: size in USD-valued contracts of the base coin, PnL in coin.
INVERSE = frozenset({"COIN-FUTURES", "SCOIN-FUTURES"})


@dataclass(frozen=True, slots=True)
class Mark:
    """The latest mark price of one symbol and the exchange's time of it (the tick's ``ts``)."""

    price: Decimal
    at: float


MarkKey = tuple[str, str]  # (product_type, symbol)


def _pnl(p: Position, mark: Decimal) -> Decimal | None:
    """The unrealized PnL at ``mark`` from the open price, for a position without a reported
    figure (linear: size x price move; inverse: size x move / mark, in coin)."""
    if p.average_open_price is None:
        return None
    move = mark - p.average_open_price if p.side == "long" else p.average_open_price - mark
    if p.product_type in INVERSE:
        return p.total * move / mark if mark > 0 else None
    return p.total * move


def _moved(p: Position, mark: Decimal) -> Decimal | None:
    """``p.unrealized_pl`` carried from ``p.mark_price`` to ``mark``."""
    if p.unrealized_pl is None:
        return _pnl(p, mark)
    if p.product_type in INVERSE:
        then, now = _pnl(p, p.mark_price), _pnl(p, mark)
        if then is None or now is None:
            return p.unrealized_pl
        return p.unrealized_pl + (now - then)
    delta = (mark - p.mark_price) * p.total
    return p.unrealized_pl + (delta if p.side == "long" else -delta)


def remark(p: Position, mark: Decimal) -> Position:
    """``p`` as it stands at ``mark``: mark, unrealized PnL and its ratio recomputed; the
    liquidation price, size, margin and leverage as last polled."""
    if mark <= 0 or mark == p.mark_price:
        return p
    upl = _moved(p, mark)
    plr = p.unrealized_plr
    if upl is not None and p.margin is not None and p.margin > 0:
        plr = upl / p.margin
    return replace(p, mark_price=mark, unrealized_pl=upl, unrealized_plr=plr)


def apply(snapshot: Snapshot, marks: Mapping[MarkKey, Mark]) -> Snapshot:
    """``snapshot`` with each position re-marked by a tick newer than the poll (the reply's
    ``requestTime``, else when we took it): the newer of tick and poll wins (DESIGN 13)."""
    polled_at = snapshot.exchange_time if snapshot.exchange_time is not None else snapshot.taken_at
    out: list[Position] = []
    changed = False
    for p in snapshot.positions:
        m = marks.get((p.product_type, p.symbol))
        if m is not None and m.at > polled_at:
            q = remark(p, m.price)
            changed = changed or q is not p
            out.append(q)
        else:
            out.append(p)
    if not changed:
        return snapshot
    return replace(snapshot, positions=tuple(out))
