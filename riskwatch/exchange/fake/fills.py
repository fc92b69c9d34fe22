"""The simulated exchange's fills and ADL ranks: what a liquidation leaves behind.

``FakeBitget.liquidate`` removes a position and records a ``burst_close_*`` fill (one-way mode:
``burst_sell_single`` / ``burst_buy_single``), ``force_reduce`` shrinks one with a
``reduce_close_*`` fill, ``close_position`` is the trader's own ``close`` (``sell_single``),
``auto_deleverage`` a ``dte_sys_adl_close_*``. The fills are served in Bitget's shapes: v2
``/api/v2/mix/order/fills`` (``fillList``, ``endId``, newest first, ``startTime``/``endTime``
/``idLessThan``/``limit``), v3 ``/api/v3/trade/fills`` (``list``, ``cursor``, no ``tradeSide``)
and v3 ``/api/v3/trade/history-orders`` (the orders' ``execType``), plus the ADL ranks of
``/api/v2/mix/position/adlRank`` and ``/api/v3/position/adlRank``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from riskwatch.exchange.fake.state import Book
from riskwatch.model import V3_CATEGORIES

_IDS = itertools.count(1_103_122_437_840_805_890)

# (what happened, position side, position mode) -> Bitget's tradeSide
_TRADE_SIDE = {
    ("burst", "long", "hedge_mode"): "burst_close_long",
    ("burst", "short", "hedge_mode"): "burst_close_short",
    ("burst", "long", "one_way_mode"): "burst_sell_single",
    ("burst", "short", "one_way_mode"): "burst_buy_single",
    ("reduce", "long", "hedge_mode"): "reduce_close_long",
    ("reduce", "short", "hedge_mode"): "reduce_close_short",
    ("reduce", "long", "one_way_mode"): "reduce_sell_single",
    ("reduce", "short", "one_way_mode"): "reduce_buy_single",
    ("adl", "long", "hedge_mode"): "dte_sys_adl_close_long",
    ("adl", "short", "hedge_mode"): "dte_sys_adl_close_short",
    ("adl", "long", "one_way_mode"): "dte_sys_adl_sell_in_single_side_mode",
    ("adl", "short", "one_way_mode"): "dte_sys_adl_buy_in_single_side_mode",
    ("close", "long", "hedge_mode"): "close",
    ("close", "short", "hedge_mode"): "close",
    ("close", "long", "one_way_mode"): "sell_single",
    ("close", "short", "one_way_mode"): "buy_single",
}
# v3 orders' execType for each (the docs' example shows "liquidation").
_EXEC_TYPE = {"burst": "liquidation", "reduce": "liquidation", "adl": "adl", "close": "normal"}


def _s(d: Decimal) -> str:
    return format(d.normalize(), "f")


@dataclass(frozen=True)
class FakeFill:
    product_type: str
    symbol: str
    margin_coin: str
    hold_side: str  # long | short
    what: str  # burst | reduce | adl | close
    pos_mode: str
    price: Decimal
    size: Decimal
    profit: Decimal
    ts_ms: int
    trade_id: str
    order_id: str

    @classmethod
    def of(
        cls, p: Any, what: str, size: Decimal, price: Decimal, ts_ms: int, pos_mode: str
    ) -> FakeFill:
        sign = 1 if p.side == "long" else -1
        profit = ((price - p.open_price) * size * sign).quantize(Decimal("0.0001"))
        return cls(
            p.product_type, p.symbol, p.margin_coin, p.side, what, pos_mode, price, size,
            profit, ts_ms, str(next(_IDS)), str(next(_IDS)),
        )  # fmt: skip

    @property
    def trade_side(self) -> str:
        return _TRADE_SIDE[(self.what, self.hold_side, self.pos_mode)]

    @property
    def side(self) -> str:
        return "sell" if self.hold_side == "long" else "buy"

    def v2(self) -> dict[str, Any]:
        return {
            "tradeId": self.trade_id,
            "symbol": self.symbol,
            "orderId": self.order_id,
            "price": _s(self.price),
            "baseVolume": _s(self.size),
            "feeDetail": [
                {"deduction": "no", "feeCoin": self.margin_coin, "totalDeductionFee": "0",
                 "totalFee": _s(-(self.price * self.size * Decimal("0.0006")).quantize(
                     Decimal("0.00000001")))}
            ],
            "side": self.side,
            "quoteVolume": _s(self.price * self.size),
            "profit": _s(self.profit),
            "enterPointSource": "sys" if self.what != "close" else "api",
            "tradeSide": self.trade_side,
            "posMode": self.pos_mode,
            "tradeScope": "taker",
            "cTime": str(self.ts_ms),
        }  # fmt: skip

    @property
    def v3_symbol(self) -> str:
        """UTA COIN-M symbols end in ``_CM`` (as the v3 position rows say)."""
        return f"{self.symbol}_CM" if self.product_type == "COIN-FUTURES" else self.symbol

    def v3(self) -> dict[str, Any]:
        return {
            "execId": self.trade_id,
            "orderId": self.order_id,
            "category": self.product_type,
            "symbol": self.v3_symbol,
            "orderType": "market",
            "side": self.side,
            "execPrice": _s(self.price),
            "execQty": _s(self.size),
            "execValue": _s(self.price * self.size),
            "tradeScope": "taker",
            "feeDetail": [{"feeCoin": self.margin_coin, "fee": "0.1"}],
            "createdTime": str(self.ts_ms),
            "updatedTime": str(self.ts_ms + 7),
            "execPnl": _s(self.profit),
        }

    def v3_order(self) -> dict[str, Any]:
        return {
            "orderId": self.order_id,
            "clientOid": self.order_id,
            "category": self.product_type,
            "symbol": self.v3_symbol,
            "orderType": "market",
            "side": self.side,
            "price": "0",
            "qty": _s(self.size),
            "cumExecQty": _s(self.size),
            "avgPrice": _s(self.price),
            "orderStatus": "filled",
            "posSide": self.hold_side,
            "holdMode": self.pos_mode,
            "reduceOnly": "YES",
            "execType": _EXEC_TYPE[self.what],
            "createdTime": str(self.ts_ms),
            "updatedTime": str(self.ts_ms),
        }


def _window(fills: list[FakeFill], params: dict[str, str]) -> list[FakeFill]:
    start = int(params.get("startTime") or 0)
    end = int(params.get("endTime") or 2**62)
    return [f for f in fills if start <= f.ts_ms <= end]


def _limit(params: dict[str, str]) -> int:
    try:
        return max(1, min(100, int(params.get("limit") or 100)))
    except ValueError:
        return 100


def v2_fills(fills: list[FakeFill], params: dict[str, str]) -> dict[str, Any] | str:
    pt = params.get("productType", "").upper()
    if not pt:
        return "40017"
    symbol = params.get("symbol", "").upper()
    rows = [f for f in _window(fills, params) if f.product_type == pt]
    rows = [f for f in rows if not symbol or f.symbol == symbol]
    rows.sort(key=lambda f: int(f.trade_id), reverse=True)  # newest first
    if params.get("idLessThan"):
        rows = [f for f in rows if int(f.trade_id) < int(params["idLessThan"])]
    page = rows[: _limit(params)]
    return {
        "fillList": [f.v2() for f in page] or None,
        "endId": page[-1].trade_id if page else None,
    }


def v3_fills(fills: list[FakeFill], params: dict[str, str], orders: bool) -> dict[str, Any] | str:
    pt = params.get("category", "")
    if (orders or pt) and pt not in V3_CATEGORIES:  # v3's category check, as on positions
        return "400172"
    symbol = params.get("symbol", "").upper() if orders else ""
    rows = [f for f in _window(fills, params) if not pt or f.product_type == pt]
    rows = [f for f in rows if not symbol or f.v3_symbol == symbol]
    rows.sort(key=lambda f: int(f.trade_id), reverse=True)
    if params.get("cursor"):
        rows = [f for f in rows if int(f.trade_id) < int(params["cursor"])]
    page = rows[: _limit(params)]
    out = [f.v3_order() if orders else f.v3() for f in page]
    return {"list": out, "cursor": page[-1].trade_id if page else ""}


def adl_rows(
    positions: Any, ranks: dict[tuple[str, str, str], Decimal], pt: str | None, v3: bool
) -> list[dict[str, str]]:
    rows = []
    for key, p in sorted(positions.items()):
        if pt is not None and p.product_type != pt:
            continue
        rank = ranks.get(key, Decimal("0.2"))
        coin_m = v3 and p.product_type == "COIN-FUTURES"
        symbol = f"{p.symbol}_CM" if coin_m else p.symbol
        row = {"symbol": symbol, "marginCoin": p.margin_coin, "holdSide": p.side}
        if v3:
            row["adlRank"] = _s(rank)
        else:  # Bitget's v2 now sends "rank" and marks "adlRank" deprecated (with another value)
            row.update(rank=_s(rank), adlRank=_s(1 - rank))
        rows.append(row)
    return rows


class FillsMixin:
    """``FakeBitget``'s forced closes and its fills/ADL routes (the book is ``self.book``)."""

    book: Book
    now_ms: Callable[[], int]

    # ------------------------------------------------------------------ forced closes

    def liquidate(
        self, symbol: str, side: str, *, price: Any = None, product_type: str = "USDT-FUTURES"
    ) -> None:
        """Bitget liquidates the position: it is removed and a ``burst_*`` fill recorded at
        ``price`` (default: its liquidation price, else its mark)."""
        self._close(symbol, side, product_type, "burst", None, price)

    def force_reduce(
        self,
        symbol: str,
        side: str,
        size: Any,
        *,
        price: Any = None,
        product_type: str = "USDT-FUTURES",
    ) -> None:
        """A partial liquidation: ``size`` is cut with a ``reduce_*`` fill."""
        self._close(symbol, side, product_type, "reduce", Decimal(str(size)), price)

    def auto_deleverage(
        self, symbol: str, side: str, *, size: Any = None, price: Any = None,
        product_type: str = "USDT-FUTURES",
    ) -> None:  # fmt: skip
        """ADL: closed (or cut by ``size``) with a ``dte_sys_adl_*`` fill."""
        cut = None if size is None else Decimal(str(size))
        self._close(symbol, side, product_type, "adl", cut, price)

    def close_position(
        self, symbol: str, side: str, *, price: Any = None, product_type: str = "USDT-FUTURES"
    ) -> None:
        """The trader closes the position (``close`` / ``sell_single`` fill)."""
        self._close(symbol, side, product_type, "close", None, price)

    def set_adl_rank(
        self, symbol: str, side: str, rank: Any, product_type: str = "USDT-FUTURES"
    ) -> None:
        self.book.mutate(lambda b: b.adl.__setitem__((product_type, symbol, side), Decimal(rank)))

    def _close(
        self, symbol: str, side: str, pt: str, what: str, size: Decimal | None, price: Any
    ) -> None:
        def act(b: Book) -> None:
            p = b.positions[(pt, symbol, side)]
            at = Decimal(str(price)) if price is not None else (p.liq() or p.mark)
            cut = p.total if size is None or size >= p.total else size
            b.fills.append(FakeFill.of(p, what, cut, at, self.now_ms(), p.pos_mode))
            if cut >= p.total:
                del b.positions[(pt, symbol, side)]
            else:
                p.total -= cut

        self.book.mutate(act)

    def _route_fills(self, path: str, params: dict[str, str]) -> Callable[[], Any] | str:
        b = self.book
        answer: Any
        if path == "/api/v2/mix/order/fills":
            answer = v2_fills(b.fills, params)
        elif path in ("/api/v3/trade/fills", "/api/v3/trade/history-orders"):
            answer = v3_fills(b.fills, params, orders=path.endswith("orders"))
        elif path == "/api/v2/mix/position/adlRank":
            pt = params.get("productType", "").upper()
            if not pt:
                return "40017"
            answer = adl_rows(b.positions, b.adl, pt, v3=False)
        elif path == "/api/v3/position/adlRank":
            answer = adl_rows(b.positions, b.adl, None, v3=True)
        else:
            return "40404"
        return answer if isinstance(answer, str) else (lambda: answer)
