"""Bitget's spot account assets (v2 ``GET /api/v2/spot/account/assets``) -> available per coin.

Why riskwatch reads the spot account at all: a line that says "add 1,250 USDT margin" is more
useful when it also says the spot account holds 3,200 USDT that could be transferred (DESIGN
11). The reply is a list of ``{coin, available, frozen, locked, limitAvailable, uTime}``
(Bitget's docs; ``coin`` is upper-case in recorded replies, lower-case in one docs example, so
it is compared case-insensitively). Pure and forgiving: a row that cannot be read is skipped,
since a hint must never cost an alert; a reply of the wrong shape is a ``TransientError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from riskwatch.errors import TransientError
from riskwatch.exchange.normalise.numbers import ROW_ERRORS, opt


def available(data: Any, path: str) -> dict[str, Decimal]:
    """Coin (upper-case) -> the spot balance available for a transfer, for every listed coin."""
    if data is None:
        return {}
    if not isinstance(data, list):
        raise TransientError(f"{path}: expected a list of assets, got {type(data).__name__}")
    out: dict[str, Decimal] = {}
    for row in data:
        if not isinstance(row, Mapping) or not isinstance(row.get("coin"), str):
            continue
        try:
            value = opt(row.get("available"))
        except ROW_ERRORS:
            continue
        if value is not None and value >= 0:
            out[row["coin"].upper()] = value
    return out
