"""Bitget position rows (v1, v2, v3) -> ``model.Position``: pure, fast, forgiving.

Each row is built in one straight-line expression inside one ``try``: the happy path pays no
per-field exception handling, which matters at 10,000 rows (Decimal construction is the main
cost). A row that fails goes through ``rowcheck.diagnose``, which names the first bad field, and is
skipped with ONE warning; it never stops the others. An envelope whose ``data`` has the wrong
shape is a ``TransientError`` naming the endpoint (Bitget hiccups; the next poll will tell).

Conventions: values are ``Decimal`` as reported (read by ``numbers``); ``leverage`` may be a
string or a JSON number; a liquidation price that is ``<= 0``, empty or null means "no
liquidation price" (``None``); zero-size legs are not positions; symbols are bare
(``BTCUSDT``; v3 COIN-M ``BTCUSD_CM`` becomes ``BTCUSD`` with ``size_in_usd``, its size being
USD contracts), product types canonical. Account rows are ``normalise_accounts``' job.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from operator import attrgetter
from typing import Any

from riskwatch.errors import TransientError
from riskwatch.exchange.normalise.numbers import BIG as _BIG
from riskwatch.exchange.normalise.numbers import ROW_ERRORS as _ROW_ERRORS
from riskwatch.exchange.normalise.numbers import ZERO as _ZERO
from riskwatch.exchange.normalise.numbers import D as _D
from riskwatch.exchange.normalise.numbers import cached as _cached
from riskwatch.exchange.normalise.numbers import lev as _lev
from riskwatch.exchange.normalise.numbers import liq as _liq
from riskwatch.exchange.normalise.numbers import num as _num
from riskwatch.exchange.normalise.numbers import opt as _opt
from riskwatch.exchange.normalise.numbers import plr as _plr
from riskwatch.exchange.normalise.rowcheck import ALL, MAX_SYMBOL, RowWarning, diagnose
from riskwatch.exchange.normalise.rowcheck import readable_symbol as readable_symbol
from riskwatch.model import V1_PRODUCT_TYPES, Position

# The ``numbers`` helpers are imported under their old private names as this module's globals:
# the hot path looks them up exactly as fast as when they were defined here.

log = logging.getLogger("riskwatch.exchange")

_SIDES = {"long": "long", "short": "short"}

Row = Mapping[str, Any]
Result = tuple[list[Position], list[str]]


class _Bad(Exception):
    """Raised inside a builder for a field whose value is present but unacceptable."""


# Building a frozen slotted dataclass through its __init__ costs ~3.4 us (one
# object.__setattr__ per field); setting the slots through their descriptors costs half, which
# is a third of the time budget per row. The result is an ordinary Position (equality, hash and
# repr unchanged; tests compare it with one built by __init__). Fields added to the model later
# get their declared defaults.
_FIELDS = dataclasses.fields(Position)
(_s0, _s1, _s2, _s3, _s4, _s5, _s6, _s7, _s8, _s9, _s10, _s11, _s12, _s13, _s14, _s15) = (
    getattr(Position, f.name).__set__ for f in _FIELDS[:16]
)
_EXTRA = tuple((getattr(Position, f.name).__set__, f.default) for f in _FIELDS[16:])
_new = object.__new__
_SETTERS = {f.name: getattr(Position, f.name).__set__ for f in _FIELDS}
_set_size_in_usd = _SETTERS["size_in_usd"]
_set_adl_rank = _SETTERS["adl_rank"]
COIN_M_SUFFIX = "_CM"  # v3 COIN-M symbols (BTCUSD_CM), sized in USD contracts


def _position(
    pt: str,
    symbol: str,
    side: str,
    coin: str,
    total: Decimal,
    mark: Decimal,
    liq: Decimal | None,
    lev: Decimal,
    mode: str,
    avg: Decimal | None,
    margin: Decimal | None,
    upl: Decimal | None,
    plr: Decimal | None,
    kmr: Decimal | None,
    mr: Decimal | None,
    be: Decimal | None,
) -> Position:
    p = _new(Position)
    _s0(p, pt), _s1(p, symbol), _s2(p, side), _s3(p, coin), _s4(p, total), _s5(p, mark)
    _s6(p, liq), _s7(p, lev), _s8(p, mode), _s9(p, avg), _s10(p, margin), _s11(p, upl)
    _s12(p, plr), _s13(p, kmr), _s14(p, mr), _s15(p, be)
    for setter, default in _EXTRA:
        setter(p, default)
    return p


def bare_symbol(symbol: str) -> str:
    """``BTCUSDT_UMCBL`` -> ``BTCUSDT`` (v1 suffixes); other symbols unchanged."""
    base, sep, suffix = symbol.rpartition("_")
    return base if sep and suffix.lower() in V1_PRODUCT_TYPES else symbol


# --------------------------------------------------------------------------- positions


def _v2(r: Row, pt: str) -> Position | None:
    # Straight-line and inlined on purpose: this is the hot path (bench/bench_normalise.py).
    # Field order is Position's; tests check the result equals one built by __init__.
    total = r["total"]
    total = _D(total) if total.__class__ is str else _num(total)
    if not _ZERO < total < _BIG:  # NaN raises here, an infinity fails: the row is skipped
        return None if total == _ZERO else _bad()
    mark = r["markPrice"]
    mark = _D(mark) if mark.__class__ is str else _num(mark)
    if not _ZERO < mark < _BIG:
        raise _Bad
    symbol = r["symbol"]
    coin = r["marginCoin"]
    if not (symbol.__class__ is str and symbol and coin.__class__ is str and coin):
        raise _Bad  # null/number/empty: later code sorts and lower()s these
    if len(symbol) > MAX_SYMBOL or not symbol.isprintable():
        symbol = _clean(symbol)
    if len(coin) > MAX_SYMBOL or not coin.isprintable():
        coin = _clean(coin)
    side = _SIDES[r["holdSide"]]
    lev = _lev(r["leverage"])
    p = _new(Position)
    _s0(p, pt)
    _s1(p, symbol)
    _s2(p, side)
    _s3(p, coin)
    _s4(p, total)
    _s5(p, mark)
    v = r.get("liquidationPrice")
    v = _D(v) if v.__class__ is str and v else _opt(v)
    _s6(p, v if v is not None and _ZERO < v < _BIG else None)
    _s7(p, lev)
    _s8(p, r.get("marginMode") or "crossed")
    v = r.get("openPriceAvg")
    avg = _D(v) if v.__class__ is str and v else _opt(v)
    _s9(p, avg)
    v = r.get("marginSize")
    margin = _D(v) if v.__class__ is str and v else _opt(v)
    _s10(p, margin)
    v = r.get("unrealizedPL")
    upl = _D(v) if v.__class__ is str and v else _opt(v)
    _s11(p, upl)
    _s12(p, upl / margin if upl is not None and margin else None)
    _s13(p, _cached(r.get("keepMarginRate")))
    v = r.get("marginRatio")
    ratio = _D(v) if v.__class__ is str and v else _opt(v)
    _s14(p, ratio)
    v = r.get("breakEvenPrice")
    be = _D(v) if v.__class__ is str and v else _opt(v)
    _s15(p, be)
    # A NaN or an infinity in an inlined optional field makes the row bad (``opt`` checks its
    # own). Five ``is_finite`` calls cost a fifth of summing the five (the thread's context).
    if not (
        (avg is None or avg.is_finite())
        and (margin is None or margin.is_finite())
        and (upl is None or upl.is_finite())
        and (ratio is None or ratio.is_finite())
        and (be is None or be.is_finite())
    ):
        raise _Bad
    for setter, default in _EXTRA:
        setter(p, default)
    return p


def _v1(r: Row, pt: str) -> Position | None:
    total = _num(r["total"])
    if not _ZERO < total < _BIG:  # NaN raises here, an infinity fails: the row is skipped
        return None if total == _ZERO else _bad()
    mark_raw = r.get("markPrice")
    mark = _num(mark_raw if mark_raw is not None else r["marketPrice"])
    symbol, coin = _names(r)
    return _position(
        pt,
        bare_symbol(symbol) or _bad(),
        _SIDES[r["holdSide"]],
        coin,
        total,
        mark if _ZERO < mark < _BIG else _bad(),
        _liq(r.get("liquidationPrice")),
        _lev(r["leverage"]),
        r.get("marginMode") or "crossed",
        _opt(r.get("averageOpenPrice")),
        _opt(r.get("margin")),
        _opt(r.get("unrealizedPL")),
        _opt(r.get("unrealizedPLR")),
        _cached(r.get("keepMarginRate")),
        None,
        _opt(r.get("breakEvenPrice")),
    )


def _v3(r: Row, pt: str) -> Position | None:
    total = _num(r["total"])
    if not _ZERO < total < _BIG:  # NaN raises here, an infinity fails: the row is skipped
        return None if total == _ZERO else _bad()
    mark = _num(r["markPrice"])
    margin = _opt(r.get("positionBalance"))
    upl = _opt(r.get("unrealisedPnl"))
    plr = _opt(r.get("profitRate"))
    symbol, coin = _names(r)
    usd = symbol.endswith(COIN_M_SUFFIX)
    p = _position(
        pt,
        symbol.removesuffix(COIN_M_SUFFIX) if usd else symbol,
        _SIDES[r["posSide"]],
        coin,
        total,
        mark if _ZERO < mark < _BIG else _bad(),
        _liq(r.get("liquidationPrice")),
        _lev(r["leverage"]),
        r.get("marginMode") or "crossed",
        _opt(r.get("avgPrice")),
        margin,
        upl,
        plr if plr is not None else _plr(upl, margin),
        _cached(r.get("mmr")),
        None,
        _opt(r.get("breakEvenPrice")),
    )
    if usd:
        _set_size_in_usd(p, True)
    return p


def _bad() -> Any:
    raise _Bad


def _names(r: Row) -> tuple[str, str]:
    """The row's ``symbol`` and ``marginCoin``, both non-empty ``str`` or ``_Bad``: a null or a
    number here would pass normalisation and crash the engine, render and sort much later."""
    symbol = r["symbol"]
    coin = r["marginCoin"]
    if symbol.__class__ is str and symbol and coin.__class__ is str and coin:
        return _clean(symbol), _clean(coin)
    raise _Bad


def _clean(text: str) -> str:
    """Exchange text fit for a line: control and other unprintable characters removed, at most
    ``MAX_SYMBOL`` characters; nothing left is a bad value (``_Bad``)."""
    if len(text) <= MAX_SYMBOL and text.isprintable():
        return text
    cleaned = "".join(c for c in text[: MAX_SYMBOL * 4] if c.isprintable())[:MAX_SYMBOL]
    return cleaned or _bad()


_BUILDERS: dict[str, Callable[[Row, str], Position | None]] = {"v1": _v1, "v2": _v2, "v3": _v3}


def positions(shape: str, rows: Any, product_type: str, endpoint: str) -> Result:
    """Normalise ``rows`` (the envelope's list) of one product type; returns the positions and
    one warning per skipped row."""
    if not isinstance(rows, list):
        raise TransientError(
            f"{endpoint}: expected a list of positions, got {type(rows).__name__}",
            endpoint=endpoint,
        )
    build = _BUILDERS[shape]
    out: list[Position] = []
    warnings: list[str] = []
    append = out.append
    for r in rows:
        try:
            p = build(r, product_type)
        except (_Bad, *_ROW_ERRORS):
            warnings.append(_skip_warning(shape, r, endpoint))
            continue
        if p is not None:
            append(p)
    # "BTCUSDT" + "long": one string per position, which the garbage collector does not track
    # (a tuple each made it walk the 10,000 new positions a few times more); the side always
    # ends the key with a "g" or a "t", so two positions share a key only if they are one.
    if len(set(map(str.__add__, map(_SYMBOL, out), map(_SIDE, out)))) != len(out):
        out = _first_of_each(out, endpoint, warnings)  # rare: only then pay for the walk
    return out, warnings


_IDENTITY = attrgetter("symbol", "side")
_SYMBOL, _SIDE = attrgetter("symbol"), attrgetter("side")


def _first_of_each(out: list[Position], endpoint: str, warnings: list[str]) -> list[Position]:
    """Keep the first row of each (symbol, side): a position listed twice is one position
    (two would be two alerts for one key, one of them new every poll)."""
    seen: set[tuple[str, str]] = set()
    kept: list[Position] = []
    for p in out:
        key = _IDENTITY(p)
        if key in seen:
            text = f"{endpoint}: {p.symbol} {p.side} is listed twice; the second row is ignored"
            if text not in warnings:
                warnings.append(RowWarning(text, None))
            continue
        seen.add(key)
        kept.append(p)
    return kept


def _skip_warning(shape: str, r: Any, endpoint: str) -> RowWarning:
    symbol = readable_symbol(r.get("symbol") if isinstance(r, Mapping) else None)
    field = diagnose(shape, r)
    text = f"{endpoint}: skipped the {symbol or '?'} row: {field} is missing or not valid"
    return RowWarning(text, ALL if symbol is None else bare_symbol(symbol))


def set_adl_ranks(fresh: Sequence[Position], ranks: Mapping[tuple[str, str, str], Decimal]) -> None:
    """Give each position its ADL rank (``ranks`` keyed by product type or ``"*"``, upper-case
    symbol and side), in place. Only for positions this fetch has just built, before anything
    else holds them: like the builders above it sets the slot through its descriptor, because a
    ``dataclasses.replace`` per position costs ~5 us, 50 ms a cycle at 10,000 positions. Equality
    and hash read the slots when asked, so the result is the Position ``replace`` would make."""
    get = ranks.get
    for p in fresh:
        symbol, side = p.symbol.upper(), p.side
        rank = get((p.product_type, symbol, side)) or get(("*", symbol, side))
        if rank is not None:
            _set_adl_rank(p, rank)


def v3_rows(data: Any, endpoint: str) -> list[Any]:
    """v3 wraps positions as ``{"list": [...]}``; ``list`` null or absent means none."""
    if not isinstance(data, dict):
        raise TransientError(
            f"{endpoint}: expected an object with 'list', got {type(data).__name__}",
            endpoint=endpoint,
        )
    rows = data.get("list")
    return [] if rows is None else rows
