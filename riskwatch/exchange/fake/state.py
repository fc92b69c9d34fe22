"""The simulated exchange's book: positions and accounts held in memory, thread-safe.

Kept apart from the server (``fake``, ``fake_http``) so tests and the demo can script prices without
caring how they are served. Rows are rendered in Bitget's v1, v2 and v3 shapes (numbers as
strings, v1 symbol suffixes, v1 ``marketPrice``), and each rendering is cached until the state
changes, so 10,000 positions are served at the speed of a socket write.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from riskwatch.model import V1_PRODUCT_TYPES

V1_NAMES = {canonical: v1 for v1, canonical in V1_PRODUCT_TYPES.items()}


def _s(d: Decimal | None) -> str:
    return "" if d is None else format(d.normalize() if d == d.to_integral() else d, "f")


DERIVE: Any = object()  # a row's liquidation price not given: the position's own estimate


def _d(v: Any) -> Decimal | None:
    try:
        return None if v in (None, "") else Decimal(str(v))
    except ArithmeticError:
        return None


def _q(d: Decimal, places: int = 8) -> Decimal:
    return d.quantize(Decimal(1).scaleb(-places)).normalize()


@dataclass
class FakePosition:
    product_type: str
    symbol: str
    side: str
    total: Decimal
    open_price: Decimal
    mark: Decimal
    leverage: Decimal = Decimal(10)
    margin_coin: str = "USDT"
    liquidation: Decimal | None = None  # None: computed from open price and leverage
    no_liquidation: bool = False  # True: Bitget's "no liquidation price" (negative number)
    keep_margin_rate: Decimal = Decimal("0.004")
    margin_mode: str = "crossed"
    pos_mode: str = "hedge_mode"  # or one_way_mode (fills then say sell_single, ...)

    def liq(self, equity: Decimal | None = None, others_mm: Decimal = Decimal(0)) -> Decimal | None:
        """The liquidation price Bitget would report: scripted, or derived. An isolated
        position's comes from its own margin; a crossed one's from the account's ``equity``
        (less the maintenance margin ``others_mm`` of its other crossed positions), so it moves
        with the account and is far away (or absent) when the equity is large."""
        if self.no_liquidation:
            return None
        if self.liquidation is not None:
            return self.liquidation
        if self.margin_mode == "crossed" and equity is not None:
            return self._cross_liq(equity, others_mm)
        step = 1 / self.leverage - self.keep_margin_rate
        factor = 1 - step if self.side == "long" else 1 + step
        return _q(self.open_price * factor, 4)

    def _cross_liq(self, equity: Decimal, others_mm: Decimal) -> Decimal | None:
        # Equity at price P: equity + q (P - mark) for a long, equity - q (P - mark) for a
        # short; liquidation where it meets the maintenance margin q P r + others_mm.
        q, m, r = self.total, self.mark, self.keep_margin_rate
        if self.side == "long":
            price = (q * m + others_mm - equity) / (q * (1 - r))
        else:
            price = (equity + q * m - others_mm) / (q * (1 + r))
        return _q(price, 4) if price > 0 else None

    def maintenance(self) -> Decimal:
        return self.mark * self.total * self.keep_margin_rate

    def margin(self) -> Decimal:
        return _q(self.open_price * self.total / self.leverage)

    def upl(self) -> Decimal:
        sign = 1 if self.side == "long" else -1
        return _q((self.mark - self.open_price) * self.total * sign)

    def common(self, liq: Decimal | None) -> dict[str, Any]:
        margin = self.margin()
        upl = self.upl()
        maint = self.mark * self.total * self.keep_margin_rate
        ratio = _q(maint / (margin + upl)) if margin + upl > 0 else Decimal(1)
        return {
            "liq": "-9880613.7641839999" if liq is None else _s(liq),
            "margin": _s(margin),
            "upl": _s(upl),
            "plr": _s(_q(upl / margin)) if margin else "0",
            "ratio": _s(ratio),
        }

    def v2(self, liq: Any = DERIVE, asset_mode: str = "single") -> dict[str, Any]:
        c = self.common(self.liq() if liq is DERIVE else liq)
        return {
            "marginCoin": self.margin_coin,
            "symbol": self.symbol,
            "holdSide": self.side,
            "openDelegateSize": "0",
            "marginSize": c["margin"],
            "available": _s(self.total),
            "locked": "0",
            "total": _s(self.total),
            "leverage": _s(self.leverage),
            "achievedProfits": "0",
            "openPriceAvg": _s(self.open_price),
            "marginMode": self.margin_mode,
            "posMode": self.pos_mode,
            "unrealizedPL": c["upl"],
            "liquidationPrice": c["liq"],
            "keepMarginRate": _s(self.keep_margin_rate),
            "markPrice": _s(self.mark),
            "marginRatio": c["ratio"],
            "breakEvenPrice": "",
            "totalFee": "0",
            "deductedFee": "0",
            "grant": "",
            "assetMode": asset_mode,
            "autoMargin": "off",
            "takeProfit": "",
            "stopLoss": None,
            "cTime": "1766103799183",
            "uTime": "1767682800537",
        }

    def v1(self, liq: Any = DERIVE) -> dict[str, Any]:
        c = self.common(self.liq() if liq is DERIVE else liq)
        suffix = V1_NAMES.get(self.product_type, "umcbl").upper()
        return {
            "marginCoin": self.margin_coin,
            "symbol": f"{self.symbol}_{suffix}",
            "holdSide": self.side,
            "openDelegateCount": "0",
            "margin": c["margin"],
            "autoMargin": "off",
            "available": _s(self.total),
            "locked": "0",
            "total": _s(self.total),
            "leverage": int(self.leverage),
            "achievedProfits": "0",
            "averageOpenPrice": _s(self.open_price),
            "marginMode": self.margin_mode,
            "holdMode": "double_hold",
            "unrealizedPL": c["upl"],
            "unrealizedPLR": c["plr"],
            "liquidationPrice": c["liq"],
            "keepMarginRate": _s(self.keep_margin_rate),
            "marketPrice": _s(self.mark),
            "cTime": "1669362331867",
            "uTime": "1626232130664",
        }

    def v3(self, liq: Any = DERIVE) -> dict[str, Any]:
        liq = self.liq() if liq is DERIVE else liq
        c = self.common(liq)
        # UTA COIN-M: symbols end in _CM and sizes count USD contracts.
        coin_m = self.product_type == "COIN-FUTURES"
        size = _s(_q(self.total * self.mark, 2)) if coin_m else _s(self.total)
        return {
            "category": self.product_type,
            "symbol": f"{self.symbol}_CM" if coin_m else self.symbol,
            "marginCoin": self.margin_coin,
            "holdMode": self.pos_mode,
            "posSide": self.side,
            "marginMode": self.margin_mode,
            "positionBalance": c["margin"],
            "available": size,
            "frozen": "0",
            "total": size,
            "leverage": _s(self.leverage),
            "curRealisedPnl": "0",
            "avgPrice": _s(self.open_price),
            "positionStatus": "normal",
            "unrealisedPnl": c["upl"],
            "liquidationPrice": "0" if liq is None else _s(liq),
            "mmr": _s(self.keep_margin_rate),
            "profitRate": c["plr"],
            "markPrice": _s(self.mark),
            "breakEvenPrice": "",
            "totalFunding": "0",
            "openFeeTotal": "0",
            "closeFeeTotal": "0",
            "createdTime": "1750495670699",
            "updatedTime": "1758035576809",
        }


def default_account(margin_coin: str = "USDT") -> dict[str, str]:
    return {
        "marginCoin": margin_coin,
        "locked": "0",
        "available": "10000",
        "crossedMaxAvailable": "10000",
        "isolatedMaxAvailable": "10000",
        "maxTransferOut": "10000",
        "accountEquity": "10000",
        "usdtEquity": "10000",
        "btcEquity": "0.1",
        "crossedRiskRate": "0.05",
        "unrealizedPL": "0",
    }


def default_unified() -> dict[str, Any]:
    return {
        "accountEquity": "10000",
        "usdtEquity": "10000",
        "btcEquity": "0.1",
        "unrealisedPnl": "0",
        "usdtUnrealisedPnl": "0",
        "btcUnrealizedPnl": "0",
        "effEquity": "9500",
        "mmr": "475",
        "imr": "500",
        "mgnRatio": "0.05",
        "positionMgnRatio": "0.01",
        "assets": [
            {
                "coin": "USDT",
                "equity": "10000",
                "usdValue": "10000",
                "balance": "10000",
                "available": "9000",
                "debt": "0",
                "locked": "0",
            }
        ],
    }


@dataclass
class Book:
    """Positions keyed (product_type, symbol, side) and accounts keyed (product_type, coin)."""

    positions: dict[tuple[str, str, str], FakePosition] = field(default_factory=dict)
    accounts: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    unified: dict[str, Any] = field(default_factory=default_unified)
    asset_mode: str = "single"  # "union": multi-asset mode, the union figures are the account's
    union: dict[str, str] = field(default_factory=dict)  # unionTotalMagin, unionAvailable, unionMm
    fills: list[Any] = field(default_factory=list)  # fake.fills.FakeFill, oldest first
    adl: dict[tuple[str, str, str], Decimal] = field(default_factory=dict)
    spot: dict[str, dict[str, str]] = field(default_factory=dict)  # coin -> available, frozen
    lock: threading.RLock = field(default_factory=threading.RLock)
    version: int = 0
    _cache: dict[tuple[Any, ...], bytes] = field(default_factory=dict)
    # called (lock held) after every change: the WebSocket server pushes from here (fake.ws)
    listeners: list[Callable[[], None]] = field(default_factory=list)

    def changed(self) -> None:
        with self.lock:
            self.version += 1
            self._cache.clear()
            for listener in self.listeners:
                listener()

    def mutate(self, fn: Callable[[Book], Any]) -> Any:
        with self.lock:
            result = fn(self)
            self.changed()
            return result

    def rendered(self, key: tuple[Any, ...], build: Callable[[], Any]) -> bytes:
        """``build()`` serialised to JSON, cached until the next change."""
        with self.lock:
            body = self._cache.get(key)
            if body is None:
                body = json.dumps(build(), separators=(",", ":")).encode()
                self._cache[key] = body
            return body

    def select(self, product_type: str, margin_coin: str | None) -> Iterable[FakePosition]:
        return [
            p
            for p in self.positions.values()
            if p.product_type == product_type and (not margin_coin or p.margin_coin == margin_coin)
        ]

    def equity(self, p: FakePosition, unified: bool) -> Decimal | None:
        """The equity a crossed position of ``p``'s account is backed by (USD where the
        account's unit is a coin), or None when the book holds no such account."""
        if unified:
            return _d(self.unified.get("effEquity"))
        if self.asset_mode == "union":
            return _d(self.union.get("unionTotalMagin"))
        acc = self.accounts.get((p.product_type, p.margin_coin))
        eq = _d(acc.get("accountEquity")) if acc else None
        if eq is not None and p.product_type.endswith("COIN-FUTURES"):
            eq *= p.mark  # coin-margined: the account's equity is in the coin
        return eq

    def rows(self, shape: str, product_type: str, margin_coin: str | None) -> list[dict[str, Any]]:
        """The positions of ``product_type`` rendered in ``shape`` (v1, v2, v3), each with the
        liquidation price Bitget would report (crossed ones from their account's equity)."""
        unified = shape == "v3"
        mm: dict[tuple[str, str], Decimal] = {}
        for o in self.positions.values():
            if o.margin_mode == "crossed":
                key = ("", "") if unified else (o.product_type, o.margin_coin)
                mm[key] = mm.get(key, Decimal(0)) + o.maintenance()
        out = []
        for p in self.select(product_type, margin_coin):
            if p.no_liquidation or p.liquidation is not None or p.margin_mode != "crossed":
                liq = p.liq()
            else:
                key = ("", "") if unified else (p.product_type, p.margin_coin)
                liq = p.liq(self.equity(p, unified), mm[key] - p.maintenance())
            if shape == "v2":
                out.append(p.v2(liq, self.asset_mode))
            else:
                out.append(p.v1(liq) if shape == "v1" else p.v3(liq))
        return out

    def walk(self, rng: random.Random, drift_pct: float, vol_pct: float) -> None:
        """Move every mark price one step, drifting toward its liquidation price."""
        with self.lock:
            for p in self.positions.values():
                step = Decimal(str(round(rng.gauss(drift_pct, vol_pct), 6))) / 100
                toward = -1 if p.side == "long" else 1
                p.mark = _q(p.mark * (1 + toward * step), 6)
            self.changed()


def spot_rows(book: Book, coin: str) -> list[dict[str, str]]:
    """v2 spot assets rows, as Bitget's docs show them; only ``coin`` when one is asked."""
    return [
        {
            "coin": name,
            "available": row["available"],
            "frozen": row["frozen"],
            "locked": "0",
            "limitAvailable": "0",
            "uTime": "1767682800537",
        }
        for name, row in sorted(book.spot.items())
        if not coin or name == coin
    ]
