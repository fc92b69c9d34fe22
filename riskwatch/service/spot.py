"""The spot account's balances for action hints, read at most once a minute and only when a
line that would mention them is due (DESIGN 11).

Why so sparing: the spot account matters only at the moment a trader is told to add margin,
and Bitget's allowance is better spent on positions. Why never blocking: a hint is a courtesy;
a refused or failed read leaves the hint without its spot part and is said once in the log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from riskwatch.errors import ExchangeError

log = logging.getLogger("riskwatch.spot")

EVERY = 60.0  # seconds between reads, at most


class SpotBalances:
    """The last read of the spot balances of the coins asked for, refreshed when a minute old."""

    def __init__(self, client: object, clock: Callable[[], float], every: float = EVERY) -> None:
        self._read = getattr(client, "spot_available", None)
        self._clock = clock
        self._every = every
        self._at: float | None = None
        self._known: dict[str, float] = {}
        self._failing = False
        self.reads = 0  # requests made (tests and metrics)

    def available(self, coins: Iterable[str]) -> dict[str, float]:
        """Coin -> available on spot, for ``coins``; reads only when the last read is older
        than a minute or a coin is new (never more often than once a minute either way)."""
        wanted = set(coins)
        if self._read is None or not wanted:
            return {}
        now = self._clock()
        due = self._at is None or now - self._at >= self._every
        if due:
            self._at = now
            self._refresh(wanted)
        return {c: v for c, v in self._known.items() if c in wanted}

    def _refresh(self, coins: set[str]) -> None:
        for coin in sorted(coins):
            self.reads += 1
            try:
                value = self._read(coin)  # type: ignore[misc]
            except ExchangeError as exc:
                if not self._failing:
                    log.warning("spot balance unavailable for hints: %s", exc)
                self._failing = True
                self._known.pop(coin, None)
                continue
            self._failing = False
            if value is None:
                self._known.pop(coin, None)
            else:
                self._known[coin] = float(value)
