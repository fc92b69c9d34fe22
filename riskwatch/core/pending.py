"""The pending changes of ``core.events`` as plain data, for the state dir. Pure.

A change that waits for its fills must survive a restart exactly (sizes and prices as
Decimal strings, never floats), and an entry that a crash or an older riskwatch left unreadable
is dropped rather than stopping the start.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from riskwatch.core.events import Change
from riskwatch.model import DEFAULT_ACCOUNT


def _dec(v: Any) -> Decimal | None:
    if v is None or v == "":
        return None
    try:
        return Decimal(str(v))
    except (InvalidOperation, ValueError):
        return None


def to_plain(changes: Iterable[Change]) -> list[dict[str, Any]]:
    """JSON-ready (Decimals as strings, exact) for the state dir."""
    return [
        {
            "product_type": c.product_type,
            "symbol": c.symbol,
            "side": c.side,
            "margin_coin": c.margin_coin,
            "size_before": str(c.size_before),
            "size_after": str(c.size_after),
            "liquidation_price": None if c.liquidation_price is None else str(c.liquidation_price),
            "mark_price": str(c.mark_price),
            "since": c.since,
            "seen_at": c.seen_at,
            "channels": list(c.channels),
            "attempts": c.attempts,
            "account": c.account,
        }
        for c in changes
    ]


def from_plain(plain: Any) -> list[Change]:
    """Inverse of ``to_plain``; an unreadable entry is dropped (never crashes the start)."""
    out: list[Change] = []
    for d in plain if isinstance(plain, list) else ():
        try:
            before, after, mark = (_dec(d[k]) for k in ("size_before", "size_after", "mark_price"))
            if before is None or after is None or mark is None:
                continue
            out.append(
                Change(
                    product_type=str(d["product_type"]),
                    symbol=str(d["symbol"]),
                    side=str(d["side"]),
                    margin_coin=str(d.get("margin_coin", "")),
                    size_before=before,
                    size_after=after,
                    liquidation_price=_dec(d.get("liquidation_price")),
                    mark_price=mark,
                    since=float(d["since"]),
                    seen_at=float(d["seen_at"]),
                    channels=tuple(str(c) for c in d.get("channels", ())),
                    attempts=int(d.get("attempts", 0)),
                    account=str(d.get("account", DEFAULT_ACCOUNT)),
                )
            )
        except (KeyError, TypeError, ValueError):
            continue
    return out
