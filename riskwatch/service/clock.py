"""The daemon's clock: wall-clock time that moves with the monotonic clock.

Why: every duration riskwatch keeps (``for``, ``repeat``, the delivery backoff, ``stale_after``,
``send_ttl``) is a difference of two readings of one clock, and those readings are persisted as
wall-clock numbers (a restart must judge them against the real time). Reading ``time.time()``
directly lets a clock step break them: set back an hour, a retry waits an hour and ``for`` and
``repeat`` freeze; set forward seven hours, a fresh message is older than ``send_ttl``.
``SteadyClock`` reads the wall clock once, at start, and then adds monotonic time, so within a
process every duration is monotonic, and across a restart it is judged by the wall clock.
``check`` compares it with the wall clock each cycle and logs a step over ``STEP`` once.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Mapping

from riskwatch.model import AlertKey, AlertState

log = logging.getLogger("riskwatch.clock")

STEP = 5.0  # seconds between the wall clock and ours worth a log line


class SteadyClock:
    def __init__(
        self,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._wall = wall
        self._monotonic = monotonic
        self._base = wall() - monotonic()
        self._told: float | None = None  # the step last logged, while one lasts

    def __call__(self) -> float:
        return self._base + self._monotonic()

    def check(self) -> float:
        """The wall clock's offset from this clock; a step over ``STEP`` (or a further one)
        is logged once, and its end at INFO."""
        step = self._wall() - self()
        if abs(step) > STEP:
            if self._told is None or abs(step - self._told) > STEP:
                log.warning(
                    "the system clock jumped %s by %.0f s; riskwatch keeps timing alerts,"
                    " retries and send_ttl by the monotonic clock",
                    "forward" if step > 0 else "back",
                    abs(step),
                )
                self._told = step
        elif self._told is not None:
            log.info("the system clock agrees with riskwatch's again")
            self._told = None
        return step


def not_ahead(state: Mapping[AlertKey, AlertState], now: float) -> dict[AlertKey, AlertState]:
    """The stored alert state with every time later than ``now`` taken as ``now``: the host
    clock was set back since a previous process wrote them, and a ``since`` an hour ahead
    would hold a pending alert's ``for`` (and every ``repeat``) for that hour. Said once, at
    start. (The last good poll and heartbeat are taken as now the same way by the watcher.)"""
    ahead = max((t - now for a in state.values() for t in _times(a)), default=0.0)
    if ahead <= STEP:
        return dict(state)
    log.warning(
        "the state dir holds times up to %.0f s ahead of this host's clock (it was set back"
        " since): they count as now",
        ahead,
    )
    return {k: _at_most(a, now) for k, a in state.items()}


def _times(a: AlertState) -> tuple[float, ...]:
    return (a.since,) if a.last_sent_at is None else (a.since, a.last_sent_at)


def _at_most(a: AlertState, now: float) -> AlertState:
    if a.since <= now and (a.last_sent_at is None or a.last_sent_at <= now):
        return a
    sent = None if a.last_sent_at is None else min(a.last_sent_at, now)
    return dataclasses.replace(a, since=min(a.since, now), last_sent_at=sent)
