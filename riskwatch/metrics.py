"""The metric catalogue (DESIGN section 3): every name a rule may use, as pure functions.

One table, read by config (to validate metric names and build the schema), by the engine (to
compute values), by render and ``positions`` (to show them). Adding a metric is adding a row.
A function returns ``None`` when the metric is undefined for that position or account (no
liquidation price, a field the API version does not report): a rule never matches ``None``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from riskwatch.model import Account, Position, Scope

Value = float | None


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    scope: Scope
    fn: Callable[..., Value]
    doc: str
    # API versions that cannot report it (``check`` warns when a rule uses it with them).
    unavailable_in: tuple[str, ...] = ()


def _f(d: Decimal | None) -> Value:
    return None if d is None else float(d)


def liq_gap_pct(p: Position) -> Value:
    """Distance from mark to liquidation, in percent of mark; positive while safe."""
    liq = p.liquidation_price
    if liq is None or liq <= 0 or p.mark_price <= 0:
        return None
    mark = float(p.mark_price)
    gap = (mark - float(liq)) if p.side == "long" else (float(liq) - mark)
    return gap / mark * 100.0


def notional(p: Position) -> Value:
    return float(p.total * p.mark_price)


def unrealized_plr(p: Position) -> Value:
    """Reported (v1 ``unrealizedPLR``, v3 ``profitRate``), else ``unrealizedPL / margin`` (v2)."""
    if p.unrealized_plr is not None:
        return float(p.unrealized_plr)
    if p.unrealized_pl is None or p.margin is None or p.margin <= 0:
        return None
    return float(p.unrealized_pl / p.margin)


def liquidation_price(p: Position) -> Value:
    """The estimated liquidation price; ``None`` for Bitget's "no liquidation price" (<= 0)."""
    liq = p.liquidation_price
    return None if liq is None or liq <= 0 else float(liq)


def _position(name: str, doc: str, getter: Callable[[Position], Value], **kw: tuple[str, ...]):
    return Metric(name, "position", getter, doc, **kw)


def _account(name: str, doc: str, getter: Callable[[Account], Value], **kw: tuple[str, ...]):
    return Metric(name, "account", getter, doc, **kw)


_V3_ONLY = ("v1", "v2")
_CLASSIC_ONLY = ("v3",)

CATALOGUE: tuple[Metric, ...] = (
    _position("liq_gap_pct", "distance from mark to liquidation price, % of mark", liq_gap_pct),
    _position("unrealizedPLR", "unrealized PnL / margin (-0.5 = -50 %)", unrealized_plr),
    _position(
        "keepMarginRate", "the tier's maintenance margin rate", lambda p: _f(p.keep_margin_rate)
    ),
    _position(
        "marginRatio",
        "maintenance margin ratio of the position (1.0 = liquidation)",
        lambda p: _f(p.margin_ratio),
        unavailable_in=("v1", "v3"),
    ),
    _position("leverage", "leverage", lambda p: _f(p.leverage)),
    _position("unrealizedPL", "unrealized PnL in the margin coin", lambda p: _f(p.unrealized_pl)),
    _position("margin", "margin held by the position", lambda p: _f(p.margin)),
    _position("total", "position size", lambda p: _f(p.total)),
    _position("markPrice", "mark price", lambda p: _f(p.mark_price)),
    _position("liquidationPrice", "estimated liquidation price", liquidation_price),
    _position("averageOpenPrice", "average open price", lambda p: _f(p.average_open_price)),
    _position("breakEvenPrice", "break-even price", lambda p: _f(p.break_even_price)),
    _position("notional", "total * markPrice", notional),
    _account(
        "crossedRiskRate",
        "cross-margin risk rate (1.0 = liquidation)",
        lambda a: _f(a.crossed_risk_rate),
        unavailable_in=_CLASSIC_ONLY,
    ),
    _account("accountEquity", "account equity", lambda a: _f(a.account_equity)),
    _account("available", "available balance", lambda a: _f(a.available)),
    _account("locked", "locked balance", lambda a: _f(a.locked)),
    _account(
        "crossedMaxAvailable", "max available in cross mode", lambda a: _f(a.crossed_max_available)
    ),
    _account(
        "isolatedMaxAvailable",
        "max available in isolated mode",
        lambda a: _f(a.isolated_max_available),
    ),
    _account("maxTransferOut", "max transferable out", lambda a: _f(a.max_transfer_out)),
    _account("unrealizedPL", "unrealized PnL of the account", lambda a: _f(a.unrealized_pl)),
    _account("usdtEquity", "equity in USDT", lambda a: _f(a.usdt_equity)),
    _account("btcEquity", "equity in BTC", lambda a: _f(a.btc_equity)),
    _account(
        "effEquity",
        "unified account effective equity",
        lambda a: _f(a.eff_equity),
        unavailable_in=_V3_ONLY,
    ),
    _account(
        "mgnRatio",
        "unified account margin ratio (1.0 = liquidation)",
        lambda a: _f(a.mgn_ratio),
        unavailable_in=_V3_ONLY,
    ),
    _account(
        "imr", "unified account initial margin rate", lambda a: _f(a.imr), unavailable_in=_V3_ONLY
    ),
    _account(
        "mmr",
        "unified account maintenance margin rate",
        lambda a: _f(a.mmr),
        unavailable_in=_V3_ONLY,
    ),
    _account(
        "positionMgnRatio",
        "unified account position margin ratio",
        lambda a: _f(a.position_mgn_ratio),
        unavailable_in=_V3_ONLY,
    ),
)

BY_SCOPE: Mapping[Scope, Mapping[str, Metric]] = {
    scope: {m.name: m for m in CATALOGUE if m.scope == scope} for scope in ("position", "account")
}
POSITION_METRICS: tuple[str, ...] = tuple(BY_SCOPE["position"])
ACCOUNT_METRICS: tuple[str, ...] = tuple(BY_SCOPE["account"])


def lookup(scope: Scope, name: str) -> Metric | None:
    return BY_SCOPE[scope].get(name)


def position_values(p: Position) -> tuple[Value, ...]:
    """Every position metric of ``p`` in ``POSITION_METRICS`` order (computed once per cycle)."""
    return tuple(m.fn(p) for m in BY_SCOPE["position"].values())


def account_values(a: Account) -> tuple[Value, ...]:
    """Every account metric of ``a`` in ``ACCOUNT_METRICS`` order."""
    return tuple(m.fn(a) for m in BY_SCOPE["account"].values())
