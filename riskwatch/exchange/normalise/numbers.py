"""Bitget's numeric fields -> ``Decimal``: the conversions both row normalisers share.

Kept apart from ``normalise`` (positions) and ``normalise_accounts`` so the two agree on what a
number is: a string or a JSON number (floats via ``repr`` so 0.1 stays 0.1), ``""``/null meaning
"absent", a liquidation price ``<= 0`` meaning "none". These functions raise (one of
``ROW_ERRORS``) on bad input and never log: the caller decides whether a row is skipped.
They sit on the hot path (bench/bench_normalise.py), so they stay small and branch-light.
"""

from __future__ import annotations

import math
from decimal import Context, Decimal, DivisionByZero, InvalidOperation, Overflow
from typing import Any

# Converting through one private context skips the thread-local context lookup that
# Decimal(str) pays on every call (~15 % of the hot path). 64 digits of precision: exact for
# anything Bitget sends (a longer string would be rounded, never truncated to garbage).
# The sane range is the context's: a magnitude of 1e16 or more raises ``Overflow`` (no price,
# size or balance comes near it, and ``total * mark`` of two such numbers stays far from any
# overflow in Decimal or float); anything below 1e-30 rounds towards zero.
MAX_ADJUSTED = 15
D = Context(
    prec=64, Emax=MAX_ADJUSTED, Emin=-30, traps=[InvalidOperation, Overflow, DivisionByZero]
).create_decimal
ZERO = Decimal(0)
BIG = Decimal(10) ** (MAX_ADJUSTED + 1)  # required magnitudes stay below this (and finite)
# What converting (or indexing) a malformed row can raise: callers catch exactly these.
# ArithmeticError covers every decimal signal (Overflow is not an InvalidOperation).
ROW_ERRORS = (ArithmeticError, TypeError, ValueError, KeyError, AttributeError)

# Leverage and maintenance rates take few distinct values: cache their Decimals.
_CACHE: dict[Any, Decimal] = {}


def cached(v: Any) -> Decimal | None:
    """``opt(v)``, memoised (bounded) for fields with few distinct values."""
    d = _CACHE.get(v)
    if d is None:
        d = opt(v)
        if d is not None and len(_CACHE) < 4096:
            _CACHE[v] = d
    return d


def num(v: Any) -> Decimal:
    """A JSON number (or string) as Decimal; floats via repr so 0.1 stays 0.1."""
    if v.__class__ is str:
        return D(v)
    if v.__class__ is int:
        return D(v)
    if v.__class__ is float and math.isfinite(v):
        return D(repr(v))
    raise TypeError(f"not a number: {type(v).__name__}")


def opt(v: Any) -> Decimal | None:
    """An optional number: ``None`` or ``""`` -> None; NaN or an infinity raise ValueError."""
    if v is None or v == "":
        return None
    d = D(v) if v.__class__ is str else num(v)
    if d.is_finite():
        return d
    raise ValueError("not a finite number")


def fin(d: Decimal | None) -> Decimal | None:
    """``d`` unless it is NaN or an infinity (ValueError): the hot path's inline check."""
    if d is None or d.is_finite():
        return d
    raise ValueError("not a finite number")


def liq(v: Any) -> Decimal | None:
    """A liquidation price; ``<= 0``, empty or null means "no liquidation price" (None)."""
    d = opt(v)
    return d if d is not None and d > ZERO else None


def lev(v: Any) -> Decimal:
    """A required leverage (cached); absent raises TypeError."""
    d = cached(v)
    return d if d is not None else num(None)


def plr(upl: Decimal | None, margin: Decimal | None) -> Decimal | None:
    """Unrealised profit/loss ratio when the exchange did not send one."""
    if upl is None or not margin:
        return None
    return upl / margin
