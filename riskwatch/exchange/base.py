"""What the rest of riskwatch knows about an exchange: a snapshot, a mode, and close().

The daemon, ``positions`` and the benchmarks depend on this interface only, so the simulated
exchange, Bitget's three APIs and any later peer (a WebSocket client, ccxt) are interchangeable.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol, runtime_checkable

from riskwatch.model import AccountMode, Snapshot


@runtime_checkable
class ExchangeClient(Protocol):
    @property
    def account_mode(self) -> AccountMode:
        """ "classic" (v1/v2 futures accounts) or "unified" (v3 unified trading account)."""
        ...

    def fetch_snapshot(self) -> Snapshot:
        """One poll. Raises ``AuthError`` (a human must act) or ``Unreachable`` (no product
        type could be read); a partial failure returns a Snapshot whose ``fetched`` lacks the
        product types that failed."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class SpotReader(Protocol):
    """A client that can also read the spot account (optional: hints only, DESIGN 11)."""

    def spot_available(self, coin: str) -> Decimal | None:
        """The spot account's ``coin`` available to transfer; None when there is none."""
        ...
