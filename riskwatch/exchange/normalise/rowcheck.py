"""The slow path of normalising a row: why it was refused, and what its warning holds back.

Kept apart from ``positions`` (the hot path): these run only for rows that failed, so they may
check field by field. ``RowWarning`` is the one line a skipped or dropped row gets, carrying
what it holds back from closing (DESIGN section 8: missing is not gone).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from riskwatch.exchange.normalise.numbers import ROW_ERRORS as _ROW_ERRORS
from riskwatch.exchange.normalise.numbers import ZERO as _ZERO
from riskwatch.exchange.normalise.numbers import num as _num

_SIDES = {"long": "long", "short": "short"}

ALL = "*"  # a RowWarning.hold meaning "the row's symbol is unreadable: hold the product type"
MAX_SYMBOL = 64  # longer exchange text is not a symbol (nor fit for a message line)


class RowWarning(str):
    """One line about a skipped or dropped row, and what it holds back from closing: ``hold``
    is the row's symbol (its alerts keep their state this time), ``ALL`` when the row's symbol
    cannot be read (every alert of the product type keeps its state), or None (nothing: a
    duplicate row, whose first copy was read)."""

    hold: str | None

    def __new__(cls, text: str, hold: str | None) -> RowWarning:
        self = super().__new__(cls, text)
        self.hold = hold
        return self


def readable_symbol(value: Any) -> str | None:
    """The exchange's symbol if it can be trusted as one: a non-empty printable string of at
    most ``MAX_SYMBOL`` characters (no newline can forge a line, no megabyte fills a message)."""
    if isinstance(value, str) and value and len(value) <= MAX_SYMBOL and value.isprintable():
        return value
    return None


# Required fields per shape, in the order a diagnosis checks them: (key(s), kind).
_REQUIRED: dict[str, tuple[tuple[str, str], ...]] = {
    "v2": (
        ("symbol", "str"),
        ("holdSide", "side"),
        ("marginCoin", "str"),
        ("total", "num"),
        ("markPrice", "pos"),
        ("leverage", "num"),
    ),
    "v1": (
        ("symbol", "str"),
        ("holdSide", "side"),
        ("marginCoin", "str"),
        ("total", "num"),
        ("markPrice|marketPrice", "pos"),
        ("leverage", "num"),
    ),
    "v3": (
        ("symbol", "str"),
        ("posSide", "side"),
        ("marginCoin", "str"),
        ("total", "num"),
        ("markPrice", "pos"),
        ("leverage", "num"),
    ),
}
_OPTIONAL: dict[str, tuple[str, ...]] = {
    "v2": (
        "liquidationPrice",
        "openPriceAvg",
        "marginSize",
        "unrealizedPL",
        "keepMarginRate",
        "marginRatio",
        "breakEvenPrice",
    ),
    "v1": (
        "liquidationPrice",
        "averageOpenPrice",
        "margin",
        "unrealizedPL",
        "unrealizedPLR",
        "keepMarginRate",
        "breakEvenPrice",
    ),
    "v3": (
        "liquidationPrice",
        "avgPrice",
        "positionBalance",
        "unrealisedPnl",
        "profitRate",
        "mmr",
        "breakEvenPrice",
    ),
}


def _ok(kind: str, v: Any) -> bool:
    try:
        if kind == "str":
            return isinstance(v, str) and bool(v)
        if kind == "side":
            return v in _SIDES
        d = _num(v)
        return d.is_finite() and (kind != "pos" or d > _ZERO)
    except _ROW_ERRORS:
        return False


def diagnose(shape: str, r: Any) -> str:
    """The name of the first unacceptable field of row ``r`` (slow path, failures only)."""
    if not isinstance(r, Mapping):
        return "row (not an object)"
    for keys, kind in _REQUIRED[shape]:
        names = keys.split("|")
        value = next((r[k] for k in names if r.get(k) is not None), None)
        if not _ok(kind, value):
            return names[0]
    for key in _OPTIONAL[shape]:
        v = r.get(key)
        if v is not None and v != "" and not _ok("num", v):
            return key
    return "row"
