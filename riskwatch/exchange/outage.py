"""An outage is said twice: one WARNING when the exchange stops answering (with the cause)
and one INFO when it answers again (``recovered after 3m``); the retries in between are DEBUG.

Tracked per request (path and query), so one product type that keeps failing while the others
answer is one outage, not a WARNING/INFO pair every cycle; it ends when every request that
failed has answered again, or has not failed for ``window`` seconds (a request that is not
made again, such as the account-mode probe of ``api: auto``, must not hold the outage open).
The host a request went to does not matter: switching hosts is a retry like any other.
A one-shot command (``positions``, ``run --once``) passes ``announce=False``: its exit line
already names the cause, so the start is DEBUG there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable

from riskwatch import durations

log = logging.getLogger("riskwatch.exchange")


class Outage:
    def __init__(
        self, clock: Callable[[], float], *, window: float = 30.0, announce: bool = True
    ) -> None:
        self._clock = clock
        self._window = window
        self._level = logging.WARNING if announce else logging.DEBUG
        self._since: float | None = None
        self._failing: dict[Hashable, float] = {}  # request -> when it last failed

    @property
    def ongoing(self) -> bool:
        return self._since is not None

    def failed(self, request: Hashable, cause: str) -> None:
        self._failing[request] = now = self._clock()
        if self._since is None:
            self._since = now
            log.log(self._level, "exchange unreachable: %s", cause)
        else:
            log.debug("still unreachable: %s", cause)

    def answered(self, request: Hashable) -> None:
        self._failing.pop(request, None)
        if self._since is None:
            return
        now = self._clock()
        self._failing = {r: t for r, t in self._failing.items() if now - t < self._window}
        if not self._failing:
            lasted = max(0.0, now - self._since)
            self._since = None
            log.info("exchange answers again: recovered after %s", durations.to_text(round(lasted)))
