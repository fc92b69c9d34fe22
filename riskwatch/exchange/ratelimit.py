"""Client-side token buckets, one per endpoint family, so riskwatch never earns a 429.

Bitget limits per UID: all-position 5/s, accounts 10/s, v3 position 20/s, public 20/s, spot
account assets 10/s. The
clock and the sleep are injected (the sleep waits on the stop event), and ``enabled=False``
turns the whole thing off for benchmarks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

DEFAULT_RATES: Mapping[str, float] = {
    "all-position": 5.0,
    "accounts": 10.0,
    "v3-position": 20.0,
    "v3-assets": 20.0,
    "v3-settings": 1.0,  # GET /api/v3/account/settings: probed at start and on a mode refusal
    "spot-assets": 10.0,
    "public": 20.0,
    "fills": 10.0,  # v2 /api/v2/mix/order/fills
    "v3-fills": 20.0,
    "v3-orders": 20.0,
    "adl": 5.0,  # v2 /api/v2/mix/position/adlRank
    "v3-adl": 1.0,  # v3 /api/v3/position/adlRank
}


class RateLimiter:
    def __init__(
        self,
        rates: Mapping[str, float] = DEFAULT_RATES,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
        enabled: bool = True,
    ) -> None:
        self._rates = dict(rates)
        self._clock = clock
        self._sleep = sleep
        self.enabled = enabled
        self._tokens: dict[str, float] = {}
        self._stamp: dict[str, float] = {}
        self._lock = threading.Lock()

    def _reserve(self, bucket: str) -> float:
        """Take a token now (possibly going negative) and return how long to wait for it."""
        rate = self._rates.get(bucket)
        if rate is None:
            return 0.0
        with self._lock:
            now = self._clock()
            tokens = self._tokens.get(bucket, rate)
            tokens = min(rate, tokens + (now - self._stamp.get(bucket, now)) * rate)
            self._stamp[bucket] = now
            tokens -= 1.0
            self._tokens[bucket] = tokens
            return 0.0 if tokens >= 0 else -tokens / rate

    def acquire(self, bucket: str) -> float:
        """Block (via the injected sleep) until a request on ``bucket`` is allowed."""
        if not self.enabled:
            return 0.0
        wait = self._reserve(bucket)
        if wait > 0:
            self._sleep(wait)
        return wait
