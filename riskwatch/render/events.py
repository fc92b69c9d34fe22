"""Event lines (DESIGN section 10): what happened to a position, told as it is. Pure.

``LIQUIDATED BTCUSDT long: 0.5 closed at 89,950 (liq was 90,000), realized -4,512 USDT``;
``PARTIALLY LIQUIDATED SOLUSDT long: 6 of 10 force-reduced at 145``; when the fills could not
be read, ``CLOSED? BTCUSDT long: 0.5 closed (reason unknown: fills unavailable)``. Amounts have
thousands separators so a trader reads them at a glance. The end of a vanished position's
alerts starts ``ENDED`` and is marked with why (``ENDED ... [was critical] (liquidated): last
...``), never "resolved".
"""

from __future__ import annotations

from collections.abc import Mapping

from riskwatch.model import Transition
from riskwatch.render.words import grouped

# How a vanished position's alerts end when it did not go by the trader's hand (kept equal
# to core.events.FORCED_REASONS by a test: render imports no core).
ENDED_REASONS = frozenset(
    {"liquidated", "force-netted", "auto-deleveraged", "delivered", "closed?"}
)
_HEADS = {
    "liquidated": "LIQUIDATED",
    "partially-liquidated": "PARTIALLY LIQUIDATED",
    "force-netted": "FORCE-NETTED",
    "auto-deleveraged": "AUTO-DELEVERAGED",
    "delivered": "DELIVERED",
    "unknown": "CLOSED?",
}


def amount(v: object) -> str:
    """``89950`` -> ``89,950``; ``-4512.37`` -> ``-4,512.37``; no float noise."""
    return grouped(v if isinstance(v, int | float | str) else None)


def _signed(v: object) -> str:
    text = amount(v)
    return text if text.startswith("-") or text == "0" else f"+{text}"


def _what(kind: str, f: Mapping[str, object]) -> str:
    size, before = amount(f.get("size")), amount(f.get("size_before"))
    part = (
        size
        if f.get("vanished") == "yes" and kind != "partially-liquidated"
        else (f"{size} of {before}")
    )
    at = f" at {amount(f['price'])}" if f.get("price") is not None else ""
    if kind == "liquidated":
        return f"{part} closed{at}"
    if kind == "partially-liquidated":
        return f"{part} force-reduced{at}"
    if kind == "force-netted":
        return f"{part} netted against the opposite leg{at}"
    if kind == "auto-deleveraged":
        return f"{part} closed by auto-deleveraging{at}"
    if kind == "delivered":
        return f"{part} delivered{at}"
    return f"{part} closed (reason unknown: {f.get('why') or 'no fill found'})"


def line(t: Transition, named: bool = False) -> str:
    """One event as one line: ``HEAD SYMBOL side: what, (liq was L), realized P COIN``;
    ``named`` (several accounts): ``HEAD SYMBOL side on ACCOUNT: ...``."""
    f = t.field_map()
    kind = t.reason
    head = _HEADS.get(kind, kind.upper())
    detail = _what(kind, f)
    liq = f.get("liquidationPrice")
    if liq is not None and kind in ("liquidated", "unknown"):
        detail += f" (liq was {amount(liq)})"
    if f.get("realized") is not None:
        detail += f", realized {_signed(f['realized'])} {f.get('margin_coin') or ''}".rstrip()
    whose = f" on {t.key[4]}" if named and t.key[4] else ""
    return f"{head} {f.get('symbol')} {f.get('side')}{whose}: {detail}"
