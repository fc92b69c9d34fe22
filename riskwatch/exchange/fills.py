"""Fills and ADL ranks: the reads that say why a position went, and how close ADL is.

Fills are read only when a position vanished or shrank (``service.events`` decides), never on
a quiet cycle, each read through the transport's rate limiter:

- v2 ``GET /api/v2/mix/order/fills?productType=..&symbol=..&startTime=..&endTime=..&limit=100``
  (10/s per UID; newest first, paged with ``idLessThan`` = ``endId``) answers ``{"fillList":
  [...] | null, "endId": ..}``; a row has ``tradeId``, ``orderId``, ``symbol``, ``price``,
  ``baseVolume``, ``side``, ``profit``, ``tradeSide``, ``posMode``, ``cTime`` (Bitget API docs,
  contract/trade/Get-Order-Fills).
- v3 ``GET /api/v3/trade/fills?category=..&startTime=..&endTime=..&limit=100`` (20/s per UID,
  a 30-day window, paged with ``cursor``) answers ``{"list": [...], "cursor": ..}``; a row has
  ``execId``, ``orderId``, ``category``, ``symbol``, ``orderType``, ``side``, ``execPrice``,
  ``execQty``, ``execValue``, ``tradeScope``, ``feeDetail``, ``createdTime``, ``updatedTime``,
  ``execPnl`` (Bitget API docs, uta/trade/Get-Order-Fills) and no ``tradeSide`` (only the
  private ``fill`` push carries one, with ``holdSide``). So on v3 the fills' orders are looked
  up in ``GET /api/v3/trade/history-orders?category=..&symbol=..&startTime=..`` whose rows
  carry ``execType`` (``liquidation`` in the docs' example, uta/trade/Get-Order-History) and
  ``posSide``; a ``tradeSide`` in a fill row, should Bitget add one, wins.

ADL ranks: v2 ``GET /api/v2/mix/position/adlRank?productType=..`` rows ``symbol``,
``marginCoin``, ``holdSide``, ``rank`` (``adlRank`` in older docs, now marked deprecated); v3
``GET /api/v3/position/adlRank`` (1/s per UID) rows ``symbol``, ``marginCoin``, ``adlRank``,
``holdSide``. Closer to 1 means reduced first.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any

from riskwatch.errors import TransientError
from riskwatch.exchange.normalise.numbers import ROW_ERRORS, num, opt
from riskwatch.exchange.normalise.positions import COIN_M_SUFFIX
from riskwatch.exchange.transport import Transport
from riskwatch.model import Fill

log = logging.getLogger("riskwatch.exchange")

V2_FILLS = "/api/v2/mix/order/fills"
V3_FILLS = "/api/v3/trade/fills"
V3_ORDERS = "/api/v3/trade/history-orders"
V2_ADL = "/api/v2/mix/position/adlRank"
V3_ADL = "/api/v3/position/adlRank"
MAX_PAGES = 5  # 500 fills since the position was last seen: more than any burst
WINDOW_V2 = 89 * 86400.0  # Bitget's span limits, with a day to spare
WINDOW_V3 = 29 * 86400.0
MARGIN = 2.0  # seconds either side of the window: the offset is measured, not exact

AdlRanks = dict[tuple[str, str, str], Decimal]  # (product_type, symbol, side) -> rank


def _ms(t: float) -> str:
    return str(int(t * 1000))


def _rows(data: Any, key: str, path: str) -> tuple[list[Any], Any]:
    if data is None:
        return [], None
    if not isinstance(data, dict):
        raise TransientError(f"{path}: unexpected data {type(data).__name__}", endpoint=path)
    rows = data.get(key)
    if rows is None:
        return [], None
    if not isinstance(rows, list):
        raise TransientError(f"{path}: {key} is not a list", endpoint=path)
    return rows, data.get("endId" if key == "fillList" else "cursor")


def _fill(row: Mapping[str, Any], pt: str, v3: bool, path: str) -> Fill | None:
    """One row, or None (with one warning) when it is unreadable: a bad row is skipped."""
    try:
        if v3:
            return Fill(
                product_type=str(row.get("category") or pt).upper(),
                symbol=_bare(row["symbol"]),
                trade_side=str(row.get("tradeSide") or ""),
                side=str(row.get("side") or ""),
                price=num(row["execPrice"]),
                size=num(row["execQty"]),
                profit=opt(row.get("execPnl")),
                at=_when(row.get("createdTime") or row["updatedTime"]),
                fill_id=str(row.get("execId") or ""),
                order_id=str(row.get("orderId") or ""),
                hold_side=str(row.get("holdSide") or row.get("posSide") or ""),
            )
        return Fill(
            product_type=pt,
            symbol=str(row["symbol"]).upper(),
            trade_side=str(row.get("tradeSide") or ""),
            side=str(row.get("side") or ""),
            price=num(row["price"]),
            size=num(row["baseVolume"]),
            profit=opt(row.get("profit")),
            at=_when(row["cTime"]),
            fill_id=str(row.get("tradeId") or ""),
            order_id=str(row.get("orderId") or ""),
        )
    except ROW_ERRORS as exc:
        log.warning("%s: skipped an unreadable fill row (%s)", path, type(exc).__name__)
        return None


def _ours(t: Transport, fills: list[Fill]) -> list[Fill]:
    """Fills stamped by our clock: ``since`` and the snapshots are ours, ``cTime`` Bitget's."""
    shift = t.offset_ms / 1000.0
    return [replace(f, at=f.at - shift) for f in fills] if shift else fills


def _span(t: Transport, since: float, now: float, window: float) -> dict[str, str]:
    """``startTime``/``endTime`` on Bitget's clock (ours plus the measured offset, give or take
    ``MARGIN``), so a local clock seconds off neither hides the fill that closed a position nor
    adds older ones."""
    shift = t.offset_ms / 1000.0
    start = max(since, now - window) + shift - MARGIN
    return {"startTime": _ms(start), "endTime": _ms(now + shift + MARGIN)}


def _when(ms: Any) -> float:
    """A fill's time (ms) in seconds; NaN or infinity (a hostile row) raises: row skipped."""
    t = float(ms) / 1000.0
    if not math.isfinite(t):
        raise ValueError("not a time")
    return t


def fills_v2(t: Transport, pt: str, symbol: str, since: float, now: float) -> list[Fill]:
    """The fills of ``symbol`` from ``since`` to ``now`` (our clock), newest first, every page."""
    params = {
        "productType": pt,
        "symbol": symbol,
        **_span(t, since, now, WINDOW_V2),
        "limit": "100",
    }
    out: list[Fill] = []
    for _ in range(MAX_PAGES):
        rows, end = t.get(
            V2_FILLS, params, bucket="fills", parse=lambda d: _rows(d, "fillList", V2_FILLS)
        )
        out += [f for f in (_fill(r, pt, False, V2_FILLS) for r in rows) if f is not None]
        if len(rows) < 100 or not end:
            break
        params = {**params, "idLessThan": str(end)}
    return _ours(t, out)


def _v3_pages(t: Transport, path: str, params: dict[str, str], bucket: str) -> list[Any]:
    rows: list[Any] = []
    for _ in range(MAX_PAGES):
        page, cursor = t.get(path, params, bucket=bucket, parse=lambda d: _rows(d, "list", path))
        rows += page
        if len(page) < 100 or not cursor:
            break
        params = {**params, "cursor": str(cursor)}
    return rows


def fills_v3(t: Transport, pt: str, symbol: str, since: float, now: float) -> list[Fill]:
    """v3 fills of ``symbol``, each marked with its order's ``execType`` when the row has no
    ``tradeSide`` (the docs' rows have none)."""
    window = {"category": pt, **_span(t, since, now, WINDOW_V3), "limit": "100"}
    rows = [r for r in _v3_pages(t, V3_FILLS, window, "v3-fills") if _symbol(r) == symbol]
    wire = f"{symbol}{COIN_M_SUFFIX}" if pt == "COIN-FUTURES" else symbol  # UTA COIN-M: _CM
    fills = [f for f in (_fill(r, pt, True, V3_FILLS) for r in rows) if f is not None]
    if not fills or all(f.trade_side for f in fills):
        return _ours(t, fills)
    orders = _v3_pages(t, V3_ORDERS, {**window, "symbol": wire}, "v3-orders")
    kinds = {str(o.get("orderId")): o for o in orders if isinstance(o, dict)}
    out = []
    for f in fills:
        order = kinds.get(f.order_id) or {}
        if not f.trade_side:
            f = _with(f, str(order.get("execType") or ""), str(order.get("posSide") or ""))
        out.append(f)
    return _ours(t, out)


def _with(f: Fill, trade_side: str, hold_side: str) -> Fill:
    return replace(f, trade_side=trade_side, hold_side=f.hold_side or hold_side)


def _bare(symbol: Any) -> str:
    """A symbol as positions name it: upper case, v3 COIN-M's ``_CM`` suffix dropped."""
    return str(symbol).upper().removesuffix(COIN_M_SUFFIX)


def _symbol(row: Any) -> str:
    return _bare(row.get("symbol") or "") if isinstance(row, dict) else ""


# --------------------------------------------------------------------------- ADL ranks


def _adl_rows(data: Any, pt: str | None, path: str) -> AdlRanks:
    if data is None:
        return {}
    if not isinstance(data, list):
        raise TransientError(f"{path}: unexpected data {type(data).__name__}", endpoint=path)
    out: AdlRanks = {}
    for row in data:
        try:
            rank = opt(row.get("rank")) if row.get("rank") not in (None, "") else None
            rank = rank if rank is not None else opt(row.get("adlRank"))
            side = str(row["holdSide"]).lower()
            if rank is None or side not in ("long", "short"):
                continue
            category = pt or str(row.get("category") or "USDT-FUTURES").upper()
            out[(category, _bare(row["symbol"]), side)] = rank
        except ROW_ERRORS:
            log.warning("%s: skipped an unreadable ADL row", path)
    return out


def adl_v2(t: Transport, pt: str) -> AdlRanks:
    return t.get(
        V2_ADL, {"productType": pt}, bucket="adl", parse=lambda d: _adl_rows(d, pt, V2_ADL)
    )


def adl_v3(t: Transport) -> AdlRanks:
    """One read for the unified account; rows name no category, so they are keyed by symbol
    and side under every product type (the client looks up the position's own)."""
    ranks: AdlRanks = t.get(
        V3_ADL, None, bucket="v3-adl", parse=lambda d: _adl_rows(d, "*", V3_ADL)
    )
    return ranks
