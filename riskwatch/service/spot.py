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
        self._asked: set[str] = set()  # every coin read so far (a new one is read at once)
        self._failing = False
        self.reads = 0  # requests made (tests and metrics)

    def available(self, coins: Iterable[str]) -> dict[str, float]:
        """Coin -> available on spot, for ``coins``; every coin is read when the last read is
        a minute old, and a coin never read before at once (each coin at most once a minute)."""
        wanted = set(coins)
        if self._read is None or not wanted:
            return {}
        now = self._clock()
        if self._at is None or now - self._at >= self._every:
            self._at = now
            self._refresh(wanted)
        elif wanted - self._asked:
            self._refresh(wanted - self._asked)  # a USDC line after a USDT one: read USDC now
        return {c: v for c, v in self._known.items() if c in wanted}

    def _refresh(self, coins: set[str]) -> None:
        self._asked |= coins
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
