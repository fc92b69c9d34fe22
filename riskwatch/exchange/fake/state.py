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

    def liq(self) -> Decimal | None:
        if self.no_liquidation:
            return None
        if self.liquidation is not None:
            return self.liquidation
        step = 1 / self.leverage - self.keep_margin_rate
        factor = 1 - step if self.side == "long" else 1 + step
        return _q(self.open_price * factor, 4)

    def margin(self) -> Decimal:
        return _q(self.open_price * self.total / self.leverage)

    def upl(self) -> Decimal:
        sign = 1 if self.side == "long" else -1
        return _q((self.mark - self.open_price) * self.total * sign)

    def common(self) -> dict[str, Any]:
        liq = self.liq()
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

    def v2(self) -> dict[str, Any]:
        c = self.common()
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
            "posMode": "hedge_mode",
            "unrealizedPL": c["upl"],
            "liquidationPrice": c["liq"],
            "keepMarginRate": _s(self.keep_margin_rate),
            "markPrice": _s(self.mark),
            "marginRatio": c["ratio"],
            "breakEvenPrice": "",
            "totalFee": "0",
            "deductedFee": "0",
            "grant": "",
            "assetMode": "single",
            "autoMargin": "off",
            "takeProfit": "",
            "stopLoss": None,
            "cTime": "1766103799183",
            "uTime": "1767682800537",
        }

    def v1(self) -> dict[str, Any]:
        c = self.common()
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

    def v3(self) -> dict[str, Any]:
        c = self.common()
        liq = self.liq()
        return {
            "category": self.product_type,
            "symbol": self.symbol,
            "marginCoin": self.margin_coin,
            "holdMode": "hedge_mode",
            "posSide": self.side,
            "marginMode": self.margin_mode,
            "positionBalance": c["margin"],
            "available": _s(self.total),
            "frozen": "0",
            "total": _s(self.total),
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
        "mmr": "50",
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
    lock: threading.RLock = field(default_factory=threading.RLock)
    version: int = 0
    _cache: dict[tuple[Any, ...], bytes] = field(default_factory=dict)

    def changed(self) -> None:
        with self.lock:
            self.version += 1
            self._cache.clear()

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

    def walk(self, rng: random.Random, drift_pct: float, vol_pct: float) -> None:
        """Move every mark price one step, drifting toward its liquidation price."""
        with self.lock:
            for p in self.positions.values():
                step = Decimal(str(round(rng.gauss(drift_pct, vol_pct), 6))) / 100
                toward = -1 if p.side == "long" else 1
                p.mark = _q(p.mark * (1 + toward * step), 6)
            self.changed()
