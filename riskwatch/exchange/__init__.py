"""The exchange edge: Bitget's REST APIs (v1, v2, v3) behind ``ExchangeClient``.

``build_client`` is the one entry point; nothing outside this package sees ``requests``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from riskwatch.exchange.base import ExchangeClient
from riskwatch.exchange.credentials import Credentials
from riskwatch.model import AccountMode, ExchangeSettings

__all__ = ["ExchangeClient", "build_client"]


def build_client(
    settings: ExchangeSettings,
    creds: Credentials,
    *,
    account_mode: str | None = None,
    on_account_mode: Callable[[AccountMode], None] | None = None,
    sleep: Callable[[float], object] | None = None,
    clock: Callable[[], float] | None = None,
    stop: threading.Event | None = None,
    wall: Callable[[], float] | None = None,
    rate_limit: bool = True,
    one_shot: bool = False,
) -> ExchangeClient:
    """A Bitget client for ``settings.api``. ``clock`` times retry budgets and rate limits
    (monotonic by default); ``wall`` stamps snapshots and signs requests (``time.time``);
    ``sleep`` defaults to ``stop.wait`` so a stop request ends any backoff at once.
    ``account_mode`` is what the state dir remembers, as stored: with ``api: auto``,
    "unified" starts on v3 and anything else (None, a stale value) on v2. ``one_shot``: the
    caller reports a failure itself in its exit line, so an outage is not also a WARNING."""
    from riskwatch.exchange.ratelimit import RateLimiter
    from riskwatch.exchange.spot import SpotAwareClient
    from riskwatch.exchange.transport import Transport

    stop = stop or threading.Event()
    sleep = sleep or stop.wait
    clock = clock or time.monotonic
    wall = wall or time.time
    limiter = RateLimiter(clock=clock, sleep=sleep, enabled=rate_limit)
    transport = Transport(
        settings,
        creds,
        clock=clock,
        wall=wall,
        sleep=sleep,
        stop=stop,
        limiter=limiter,
        announce_outages=not one_shot,
    )
    return SpotAwareClient(  # a BitgetClient that can also read the spot account, for hints
        settings,
        transport,
        account_mode=account_mode,
        on_account_mode=on_account_mode,
        wall=wall,
        clock=clock,
    )
