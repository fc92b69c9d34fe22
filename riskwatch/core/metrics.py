"""The metric catalogue (DESIGN section 3): every name a rule may use, as pure functions.

One table, read by config (to validate metric names and build the schema), by the engine (to
compute values), by render and ``positions`` (to show them). Adding a metric is adding a row.
A function returns ``None`` when the metric is undefined for that position or account (no
liquidation price, a field the API version does not report): a rule never matches ``None``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

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
    # How a line says it (DESIGN 11, words): ``{v}`` is the value shown in ``unit``: pct (already
    # a percentage), fraction (shown as a percentage), ratio, times (leverage), amount, price.
    phrase: str = ""
    unit: str = "amount"

    # Which way is danger ("low": smaller is worse, "high": larger is worse), and the value the
    # metric approaches as risk vanishes (None: unbounded); ``ratio``: a fraction where 1.0
    # means liquidation, thresholds in 0..1. ``check``'s lint reads them to find rules that can
    # never fire, fire while safe, or never clear.
    danger: str | None = None
    safe_end: float | None = None
    ratio: bool = False

    def say(self) -> str:
        """The phrase, or ``name {v}`` for a metric that has none of its own."""
        return self.phrase or f"{self.name} {{v}}"


def _attr(name: str) -> Callable[[Position | Account], Value]:
    """A reported field as a float (one Python call: columns call it 10,000 times a cycle)."""
    get = attrgetter(name)

    def value(item: Position | Account) -> Value:
        v = get(item)
        return None if v is None else float(v)

    value.__name__ = name
    return value


def liq_gap_pct(p: Position) -> Value:
    """Distance from mark to liquidation, in percent of mark; positive while safe."""
    if p.liquidation_price is None:
        return None
    liq = float(p.liquidation_price)
    mark = float(p.mark_price)
    if liq <= 0 or mark <= 0:
        return None
    gap = (mark - liq) if p.side == "long" else (liq - mark)
    return gap / mark * 100.0


def notional(p: Position) -> Value:
    """Position value in the quote currency; a v3 COIN-M size is already USD contracts."""
    return float(p.total) if p.size_in_usd else float(p.total * p.mark_price)


def unrealized_plr(p: Position) -> Value:
    """Reported (v1 ``unrealizedPLR``, v3 ``profitRate``), else ``unrealizedPL / margin`` (v2)."""
    if p.unrealized_plr is not None:
        return float(p.unrealized_plr)
    if p.unrealized_pl is None or p.margin is None:
        return None
    margin = float(p.margin)
    return float(p.unrealized_pl) / margin if margin > 0 else None


def liquidation_price(p: Position) -> Value:
    """The estimated liquidation price; ``None`` for Bitget's "no liquidation price" (<= 0)."""
    liq = p.liquidation_price
    return None if liq is None or liq <= 0 else float(liq)


def _position(name: str, doc: str, getter: Callable[[Position], Value], **kw: Any) -> Metric:
    return Metric(name, "position", getter, doc, **kw)


def _account(name: str, doc: str, getter: Callable[[Account], Value], **kw: Any) -> Metric:
    return Metric(name, "account", getter, doc, **kw)


_RATIO: dict[str, Any] = {"danger": "high", "safe_end": 0.0, "ratio": True}
_V3_ONLY = ("v1", "v2")
_UNION_ONLY = ("v1", "v3")  # v2 account rows in multi-asset (union) mode

CATALOGUE: tuple[Metric, ...] = (
    _position(
        "liq_gap_pct",
        "distance from mark to liquidation price, % of mark",
        liq_gap_pct,
        phrase="{v} from liquidation",
        unit="pct",
        danger="low",
        safe_end=100.0,
    ),
    _position(
        "unrealizedPLR",
        "unrealized PnL / margin (-0.5 = -50 %)",
        unrealized_plr,
        phrase="PnL {v} of margin",
        unit="fraction",
        danger="low",
    ),
    _position(
        "keepMarginRate",
        "the tier's maintenance margin rate",
        _attr("keep_margin_rate"),
        phrase="maintenance margin rate {v}",
        unit="fraction",
        **_RATIO,
    ),
    _position(
        "marginRatio",
        "maintenance margin ratio of the position (1.0 = liquidation)",
        _attr("margin_ratio"),
        unavailable_in=("v1", "v3"),
        phrase="margin ratio {v}",
        unit="ratio",
        **_RATIO,
    ),
    _position(
        "leverage",
        "leverage",
        _attr("leverage"),
        phrase="leverage {v}",
        unit="times",
        danger="high",
        safe_end=1.0,
    ),
    _position(
        "unrealizedPL",
        "unrealized PnL in the margin coin",
        _attr("unrealized_pl"),
        phrase="PnL {v}",
    ),
    _position("margin", "margin held by the position", _attr("margin"), phrase="margin {v}"),
    _position("total", "position size", _attr("total"), phrase="size {v}"),
    _position("markPrice", "mark price", _attr("mark_price"), phrase="mark {v}", unit="price"),
    _position(
        "liquidationPrice",
        "estimated liquidation price",
        liquidation_price,
        phrase="liquidation price {v}",
        unit="price",
    ),
    _position(
        "averageOpenPrice",
        "average open price",
        _attr("average_open_price"),
        phrase="entry {v}",
        unit="price",
    ),
    _position(
        "breakEvenPrice",
        "break-even price",
        _attr("break_even_price"),
        phrase="break-even {v}",
        unit="price",
    ),
    _position(
        "notional",
        "total * markPrice (v3 COIN-M: total, USD contracts)",
        notional,
        phrase="notional {v}",
    ),
    _position(
        "adlRank",
        "place in Bitget's auto-deleveraging queue, 0..1 (closer to 1: reduced first);"
        " read at most every 30 s",
        _attr("adl_rank"),
        unavailable_in=("v1",),
        phrase="ADL rank {v}",
        unit="ratio",
    ),
    _account(
        "crossedRiskRate",
        "cross-margin risk rate (1.0 = liquidation); v3: the unified account's mmr / effEquity",
        _attr("crossed_risk_rate"),
        phrase="account risk {v}",
        unit="ratio",
        **_RATIO,
    ),
    _account("accountEquity", "account equity", _attr("account_equity"), phrase="equity {v}"),
    _account("available", "available balance", _attr("available"), phrase="available {v}"),
    _account("locked", "locked balance", _attr("locked"), phrase="locked {v}"),
    _account(
        "crossedMaxAvailable",
        "max available in cross mode",
        _attr("crossed_max_available"),
        phrase="cross max available {v}",
    ),
    _account(
        "isolatedMaxAvailable",
        "max available in isolated mode",
        _attr("isolated_max_available"),
        phrase="isolated max available {v}",
    ),
    _account(
        "maxTransferOut",
        "max transferable out",
        _attr("max_transfer_out"),
        phrase="transferable {v}",
    ),
    _account(
        "unrealizedPL",
        "unrealized PnL of the account",
        _attr("unrealized_pl"),
        phrase="account PnL {v}",
    ),
    _account("usdtEquity", "equity in USDT", _attr("usdt_equity"), phrase="equity {v} USDT"),
    _account("btcEquity", "equity in BTC", _attr("btc_equity"), phrase="equity {v} BTC"),
    _account(
        "effEquity",
        "unified account effective equity",
        _attr("eff_equity"),
        unavailable_in=_V3_ONLY,
        phrase="effective equity {v}",
    ),
    _account(
        "mgnRatio",
        "unified account margin ratio as Bitget reports it (formula undocumented)",
        _attr("mgn_ratio"),
        unavailable_in=_V3_ONLY,
        phrase="margin ratio {v}",
        unit="ratio",
        **_RATIO,
    ),
    _account(
        "imr",
        "unified account initial margin (USD)",
        _attr("imr"),
        unavailable_in=_V3_ONLY,
        phrase="initial margin {v} USD",
    ),
    _account(
        "mmr",
        "unified account maintenance margin, in USD",
        _attr("mmr"),
        unavailable_in=_V3_ONLY,
        phrase="maintenance margin {v} USD",
    ),
    _account(
        "positionMgnRatio",
        "unified account position margin ratio",
        _attr("position_mgn_ratio"),
        unavailable_in=_V3_ONLY,
        phrase="position margin ratio {v}",
        unit="ratio",
    ),
    _account(
        "unionTotalMargin",
        "multi-asset (union) mode: the account's total margin across coins, in USD",
        _attr("union_total_margin"),
        unavailable_in=_UNION_ONLY,
        phrase="union total margin {v} USD",
    ),
    _account(
        "unionAvailable",
        "multi-asset (union) mode: the account's available margin, in USD",
        _attr("union_available"),
        unavailable_in=_UNION_ONLY,
        phrase="union available {v} USD",
    ),
    _account(
        "unionMm",
        "multi-asset (union) mode: the account's maintenance margin, in USD",
        _attr("union_mm"),
        unavailable_in=_UNION_ONLY,
        phrase="union maintenance margin {v} USD",
    ),
)

BY_SCOPE: Mapping[Scope, Mapping[str, Metric]] = {
    scope: {m.name: m for m in CATALOGUE if m.scope == scope} for scope in ("position", "account")
}
POSITION_METRICS: tuple[str, ...] = tuple(BY_SCOPE["position"])
ACCOUNT_METRICS: tuple[str, ...] = tuple(BY_SCOPE["account"])


def lookup(scope: Scope, name: str) -> Metric | None:
    return BY_SCOPE[scope].get(name)


_POSITION_FNS = tuple(m.fn for m in BY_SCOPE["position"].values())
_ACCOUNT_FNS = tuple(m.fn for m in BY_SCOPE["account"].values())


def position_values(p: Position) -> tuple[Value, ...]:
    """Every position metric of ``p`` in ``POSITION_METRICS`` order (computed once per cycle)."""
    return tuple([fn(p) for fn in _POSITION_FNS])


def account_values(a: Account) -> tuple[Value, ...]:
    """Every account metric of ``a`` in ``ACCOUNT_METRICS`` order."""
    return tuple([fn(a) for fn in _ACCOUNT_FNS])
