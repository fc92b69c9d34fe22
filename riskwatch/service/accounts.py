"""Many accounts in one daemon (DESIGN 14): what each account carries, and polling them all.

Each watched account has its own exchange client (so its own rate limiter, clock sync and
account mode: Bitget's private limits are per UID), its own health (last good poll, refusal:
its own ``riskwatch-stale`` and ``riskwatch-auth``) and its own event tracker (fills are read
with its key). A cycle polls every account at once on a bounded thread pool: a slow account
costs the cycle its own time, never the sum, and a refused or unreachable one yields no
snapshot while the others yield theirs. The engine then evaluates all snapshots together.

Only the poll runs on the pool (network I/O, each account's objects touched by its own task
alone); evaluation, the store and delivery stay on the loop thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace

from riskwatch.core.events import Event
from riskwatch.errors import AuthError, ExchangeError, Unreachable
from riskwatch.exchange.base import ExchangeClient
from riskwatch.model import Config, Health, Snapshot
from riskwatch.service.events import EventTracker
from riskwatch.service.spot import SpotBalances

log = logging.getLogger("riskwatch.cycle")

MAX_WORKERS = 16  # threads polling at once; more accounts wait for a free one
MAX_BACKOFF = 300.0  # longest wait between a refused account's polls (as the daemon's)


@dataclass(eq=False)
class AccountWatch:
    """One account's client and what carries over between its polls."""

    name: str
    client: ExchangeClient
    health: Health
    events: EventTracker
    spot: SpotBalances  # for action hints (DESIGN 11): this account's spot balances
    named: bool = False  # several accounts: log lines name this one
    refusals: int = 0  # refused polls in a row: this account backs off alone
    resume_at: float = 0.0  # monotonic: polled again from then on
    last_snapshot: Snapshot | None = None  # its last good poll
    last_seen: Snapshot | None = None  # its last evaluated: a poll, or one re-marked

    def who(self) -> str:
        return f"account {self.name}: " if self.named else ""

    def due(self, now: float) -> bool:
        return now >= self.resume_at


@dataclass(frozen=True, slots=True)
class Poll:
    """What one account's poll gave this cycle."""

    watch: AccountWatch
    snapshot: Snapshot | None
    error: ExchangeError | None
    decided: tuple[Event, ...] = ()
    held: frozenset[tuple[str, str, str, str]] = frozenset()  # vanished, reason not yet known


def poll_one(
    w: AccountWatch, cfg: Config, now: float, clock: Callable[[], float] = lambda: 0.0
) -> Poll:
    """Fetch ``w``'s snapshot, note what vanished or shrank and read those fills (DESIGN 10).
    Runs on a pool thread: touches only ``w``."""
    try:
        snapshot = w.client.fetch_snapshot()
    except AuthError as exc:
        if w.health.auth_error != exc.explanation:
            log.error("%sexchange refused the credentials: %s", w.who(), exc.explanation)
        w.health = replace(w.health, auth_error=exc.explanation)
        return Poll(w, None, exc)
    except ExchangeError as exc:  # an outage is logged once by the exchange edge
        level = logging.DEBUG if isinstance(exc, Unreachable) else logging.WARNING
        log.log(level, "%spoll failed: %s", w.who(), exc)
        return Poll(w, None, exc)
    if snapshot.account != w.name:
        snapshot = replace(snapshot, account=w.name)
    w.health = replace(w.health, last_success=now, auth_error=None)
    w.events.observe(snapshot, cfg)
    held = w.events.held()  # before the read: what it decides ends with its event's line
    decided = tuple(w.events.read(w.client, clock()))
    return Poll(w, snapshot, None, decided, held)


class Poller:
    """Polls every account of a cycle in parallel (one account: on the calling thread).

    A cycle waits at most ``budget`` seconds for the accounts' polls: one still running then
    (a slow or hanging account) counts as not polled this cycle (its alerts keep their state,
    as after a failed poll) and is not polled again until it returns; its result is taken at
    the next cycle. So a slow account delays the others' alerts by ``budget`` at most once,
    never every cycle by its full timeout and retries."""

    def __init__(self, size: int) -> None:
        self._size = max(1, min(size, MAX_WORKERS))
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._inflight: dict[str, Future[Poll]] = {}

    def poll(
        self,
        watches: Sequence[AccountWatch],
        cfg: Config,
        now: float,
        clock: Callable[[], float],
        budget: float | None = None,
    ) -> list[Poll]:
        if self._size == 1 or not watches:  # one account: on this thread, as before accounts
            return [poll_one(w, cfg, now, clock) for w in watches]
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._size, thread_name_prefix="riskwatch-poll")
            pool = self._pool
        for w in watches:
            if w.name not in self._inflight:
                self._inflight[w.name] = pool.submit(poll_one, w, cfg, now, clock)
        wait([self._inflight[w.name] for w in watches], timeout=budget)
        out = []
        for w in watches:
            future = self._inflight[w.name]
            if not future.done():
                log.warning(
                    "%sstill polling after %gs; its alerts keep their state", w.who(), budget
                )
                out.append(Poll(w, None, None))
                continue
            del self._inflight[w.name]
            out.append(future.result())
        return out

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None


def back_off(polls: Sequence[Poll], now: float, interval: float) -> None:
    """A refused account among others waits 2x longer after each refusal in a row (at most
    ``MAX_BACKOFF``), as the daemon does when its only account is refused; the others keep
    their pace. Its riskwatch-auth keeps firing meanwhile (its health keeps the refusal)."""
    for p in polls:
        w = p.watch
        if isinstance(p.error, AuthError):
            w.refusals += 1
            wait = min(MAX_BACKOFF, interval * 2 ** min(w.refusals - 1, 10))
            w.resume_at = now + wait - interval / 2  # due at the tick after the wait
        elif p.snapshot is not None:
            w.refusals, w.resume_at = 0, 0.0


def first_error(polls: Sequence[Poll]) -> ExchangeError | None:
    """The error a one-shot run exits by: a refusal before an outage (exit 3 before 4)."""
    errors = [p.error for p in polls if p.error is not None]
    refused = [e for e in errors if isinstance(e, AuthError)]
    return (refused or errors or [None])[0]


def seen(watches: Sequence[AccountWatch]) -> tuple[int, float | None]:
    """Positions watched in all accounts' last good polls, and the oldest account's last good
    poll (the one STATUS= says: every account was seen since then; None: one never was)."""
    positions = sum(len(w.last_snapshot.positions) for w in watches if w.last_snapshot)
    lasts = [w.health.last_success for w in watches]
    known = [x for x in lasts if x is not None]
    return positions, min(known) if known and len(known) == len(lasts) else None


def failed_note(
    errors: Sequence[tuple[str, ExchangeError]], error: ExchangeError | None, named: bool
) -> str:
    """``; last poll failed: AuthError`` (one account), ``...: hedge (AuthError)`` (several)."""
    if named and errors:
        return "; last poll failed: " + ", ".join(f"{n} ({type(e).__name__})" for n, e in errors)
    return f"; last poll failed: {type(error).__name__}" if error is not None else ""
