"""Delivery: one worker thread per URL draining that URL's part of the outbox.

Why a thread per URL: a hanging or rate-limited URL must delay no poll and no other URL; and a
message is queued per URL (not per channel), so a URL that keeps failing never makes a healthy
URL of the same channel receive a second copy.

The outbox names a URL by ``destination_key`` (a hash of the interpolated URL): the state dir
never holds a token, and a URL that vanishes in a reload is recognised (its queued messages are
dropped, with a log line naming the channel).
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TextIO

from riskwatch import durations
from riskwatch.delivery import telegram
from riskwatch.delivery.alertmanager import Accepted, AlertmanagerSender
from riskwatch.delivery.apprise_sender import Sender, build_sender
from riskwatch.delivery.deadline import SEND_TIMEOUT
from riskwatch.delivery.retry import (
    Clock,
    Destination,
    PassResult,
    RetryPolicy,
    Sleep,
    Unrecorded,
    deliver_pending,
    drop_orphans,
    reschedule_ahead,
    send_with_retries,
)
from riskwatch.errors import RiskwatchError
from riskwatch.model import Config, NotifyType
from riskwatch.render import alertmanager as am
from riskwatch.store.db import Store

log = logging.getLogger("riskwatch.notify")

__all__ = [
    "Deliverer",
    "DeliveryReport",
    "RetryPolicy",
    "UrlReport",
    "destination_key",
    "destinations",
    "routes",
]


def destination_key(url: str) -> str:
    """A URL's name in the state dir: a truncated sha256, so the file never holds a token."""
    return hashlib.sha256(url.strip().encode()).hexdigest()[:20]


def alertmanager_key(url: str) -> str:
    """An Alertmanager URL's name in the state dir: its own, should the same URL be a channel."""
    return destination_key(f"alertmanager+{url}")


def routes(cfg: Config) -> dict[str, list[str]]:
    """Channel name -> its URLs' destination keys (a URL listed twice in a channel, once);
    ``render.alertmanager.ROUTE`` -> the Alertmanager URLs' keys, when configured."""
    out: dict[str, list[str]] = {}
    for ch in cfg.channels:
        keys = out.setdefault(ch.name, [])
        for url in ch.urls:
            if (k := destination_key(url)) not in keys:
                keys.append(k)
    if cfg.alertmanager is not None:
        out[am.ROUTE] = [alertmanager_key(u) for u in cfg.alertmanager.urls]
    return out


def destinations(
    cfg: Config,
    out: TextIO | None = None,
    reuse: dict[str, Destination] | None = None,
    ids: telegram.Keyboard | None = None,
    send_timeout: float = SEND_TIMEOUT,
    accepted: Accepted | None = None,
) -> dict[str, Destination]:
    """Destination key -> Destination (URL, the channels listing it, its cached sender, its
    send deadline: the URL's own ``send_timeout=`` option, else ``send_timeout``);
    ``accepted`` remembers what each Alertmanager accepted (the daemon's store)."""
    found: dict[str, Destination] = {}
    for ch in cfg.channels:
        for url in ch.urls:
            key = destination_key(url)
            if key in found:
                if ch.name not in found[key].channels:
                    found[key].channels += (ch.name,)
                continue
            old = (reuse or {}).get(key)
            plain, own = durations.split_send_timeout(url)  # validated at load
            limit = own or send_timeout
            sender = old.sender if old else _sender(plain, cfg, out, ids, limit)
            found[key] = Destination(key, url, (ch.name,), sender, send_timeout=limit)
    if cfg.alertmanager is not None:
        timeout = cfg.alertmanager.timeout
        for url in cfg.alertmanager.urls:
            key = alertmanager_key(url)
            old = (reuse or {}).get(key)
            keep = old is not None and getattr(old.sender, "timeout", None) == timeout
            sender = (
                old.sender
                if old and keep
                else AlertmanagerSender(url, timeout=timeout, accepted=accepted, key=key)
            )
            limit = max(send_timeout, timeout + 5)  # its own timeout governs, the deadline bounds
            found[key] = Destination(key, url, (am.CHANNEL,), sender, send_timeout=limit)
    return found


def _sender(
    url: str, cfg: Config, out: TextIO | None, ids: telegram.Keyboard | None, limit: float
) -> Sender:
    """riskwatch's Telegram sender for the ``telegram:`` bot's URLs, apprise for the rest
    (whose per-read timeout is set past the send deadline ``limit``: see ``deadline``)."""
    own = telegram.sender_for(url, cfg.telegram, ids or (lambda key: None))
    return own if own is not None else build_sender(url, out, read_timeout=limit + 5)


@dataclass(frozen=True, slots=True)
class UrlReport:
    channel: str
    url: str  # privacy-masked
    sent: int = 0
    failed: int = 0
    dropped: int = 0
    pending: int = 0  # still queued after this run
    error: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    urls: tuple[UrlReport, ...] = ()

    @property
    def sent(self) -> int:
        return sum(u.sent for u in self.urls)

    @property
    def pending(self) -> int:
        return sum(u.pending for u in self.urls)

    @property
    def dropped(self) -> int:
        return sum(u.dropped for u in self.urls)

    @property
    def ok(self) -> bool:
        return self.pending == 0 and not any(u.failed for u in self.urls)

    def __str__(self) -> str:
        text = f"delivery: {self.sent} sent, {self.pending} still queued"
        if self.dropped:
            text += f", {self.dropped} dropped (older than send_ttl)"
        failed = [f"{u.channel} {u.url}: {u.error}" for u in self.urls if u.error]
        return text + "".join(f"; {f}" for f in failed)


class _Worker:
    """The thread that drains one URL; woken by ``kick`` or when its next attempt is due."""

    def __init__(self, deliverer: Deliverer, dest: Destination) -> None:
        self.deliverer = deliverer
        self.dest = dest
        self.wake = threading.Event()
        self.retired = False
        self.thread = threading.Thread(
            target=self._run, name=f"riskwatch-deliver-{dest.label}", daemon=True
        )
        self.thread.start()

    def _run(self) -> None:
        d = self.deliverer
        while not (d.stop.is_set() or self.retired):
            self.wake.clear()
            result = d.run_pass(self.dest, force=False)
            timeout = 60.0 if result.next_due is None else result.next_due - d.clock()
            self.wake.wait(min(max(timeout, 0.05), 60.0))


class Deliverer:
    """Per-URL delivery workers over the store's outbox (started by the first ``kick``)."""

    def __init__(
        self,
        cfg: Config,
        store: Store,
        *,
        clock: Clock = time.time,
        sleep: Sleep | None = None,
        stop: threading.Event | None = None,
        out: TextIO | None = None,
        policy: RetryPolicy | None = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.store = store
        self.clock = clock
        self.stop = stop or threading.Event()
        self.sleep: Sleep = sleep or self.stop.wait
        self.policy = policy or RetryPolicy()
        self.rand = rand
        self._out = out if out is not None else None
        self._lock = threading.Lock()
        self._workers: dict[str, _Worker] = {}
        self._busy: dict[str, threading.Lock] = {}
        self._unrecorded: dict[str, Unrecorded] = {}  # per URL, guarded by its busy lock
        self.ttl = cfg.send_ttl
        self.late_after = cfg.late_after
        self.ids = telegram.store_ids(store, clock)
        self.accepted = Accepted(store)
        self.dests = destinations(
            cfg, out, ids=self.ids, send_timeout=self.policy.send_timeout, accepted=self.accepted
        )
        drop_orphans(store, set(self.dests), "is no longer in the config", clock())
        reschedule_ahead(store, clock())

    # ------------------------------------------------------------------ the daemon's calls

    def kick(self) -> None:
        """Wake every URL's worker (after a commit), starting the workers on first use."""
        with self._lock:
            for key, dest in self.dests.items():
                worker = self._workers.get(key)
                if worker is None:
                    worker = self._workers[key] = _Worker(self, dest)
                worker.wake.set()

    def reconfigure(self, cfg: Config) -> None:
        """Adopt a reloaded config: URLs keep their senders; a vanished URL's worker ends and
        its queued messages are dropped with a log line naming the channel."""
        with self._lock:
            self.ttl = cfg.send_ttl
            self.late_after = cfg.late_after
            self.dests = destinations(
                cfg,
                self._out,
                reuse=self.dests,
                ids=self.ids,
                send_timeout=self.policy.send_timeout,
                accepted=self.accepted,
            )
            for key in [k for k in self._workers if k not in self.dests]:
                worker = self._workers.pop(key)
                worker.retired = True
                worker.wake.set()
        gone = "was removed from the config by a reload"
        drop_orphans(self.store, set(self.dests), gone, self.clock())
        self.kick()

    def deliver_all_once(self, timeout: float | None = None) -> DeliveryReport:
        """``run --once``: try every pending message now, whatever its next attempt time, each
        URL in its own thread, all within ``timeout`` (default: the retry budget plus 20 s)."""
        pending = self.store.dest_keys()
        chosen = [d for k, d in self.dests.items() if k in pending]
        results: dict[str, PassResult] = {}

        def one(dest: Destination) -> None:
            results[dest.key] = self.run_pass(dest, force=True)

        threads = [
            threading.Thread(target=one, args=(d,), name=f"riskwatch-once-{d.label}", daemon=True)
            for d in chosen
        ]
        for t in threads:
            t.start()
        deadline = time.monotonic() + (self.policy.budget + 20.0 if timeout is None else timeout)
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        return DeliveryReport(tuple(self._report(d, results.get(d.key)) for d in chosen))

    def notice(
        self, channels: Sequence[str], title: str, body: str, notify_type: NotifyType = "info"
    ) -> None:
        """Send ``title``/``body`` straight to the URLs of ``channels``, bypassing the outbox
        (for when the outbox itself cannot be written): each URL in its own thread, with the
        usual retries and deadline, nothing recorded; a failure is logged."""
        with self._lock:
            chosen = [d for d in self.dests.values() if set(d.channels) & set(channels)]
        for dest in chosen:
            threading.Thread(
                target=self._notice_one,
                args=(dest, title, body, notify_type),
                name=f"riskwatch-notice-{dest.label}",
                daemon=True,
            ).start()

    def _notice_one(
        self, dest: Destination, title: str, body: str, notify_type: NotifyType
    ) -> None:
        try:
            send_with_retries(
                dest.sender,
                title,
                body,
                notify_type=notify_type,
                policy=self.policy,
                clock=time.monotonic,
                sleep=self.sleep,
                stop=self.stop,
                timeout=dest.send_timeout,
                label=f"channel {dest.label} {dest.sender.display()}",
            )
        except RiskwatchError as exc:
            log.warning("channel %s: a direct notice was not delivered: %s", dest.label, exc)

    def close(self, timeout: float = 3.0) -> None:
        """Stop the workers, waiting up to ``timeout`` for sends in flight: one accepted after
        the store is closed could not be recorded and would be sent again after a restart."""
        self.stop.set()
        with self._lock:
            workers = list(self._workers.values())
            busy = list(self._busy.values())
        for w in workers:
            w.wake.set()
        deadline = time.monotonic() + timeout
        for lock in busy:  # held by a worker's or a one-shot run's pass
            if lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
                lock.release()
        for w in workers:
            w.thread.join(max(0.0, deadline - time.monotonic()))

    def run_pass(self, dest: Destination, *, force: bool) -> PassResult:
        """One delivery pass over ``dest``'s queue; one at a time per URL (a worker's or a
        one-shot run's)."""
        with self._lock:
            busy = self._busy.setdefault(dest.key, threading.Lock())
            unrecorded = self._unrecorded.setdefault(dest.key, {})
        with busy:
            try:
                return deliver_pending(
                    dest,
                    self.store,
                    ttl=self.ttl,
                    force=force,
                    policy=self.policy,
                    clock=self.clock,
                    sleep=self.sleep,
                    stop=self.stop,
                    rand=self.rand,
                    unrecorded=unrecorded,
                    late_after=self.late_after,
                )
            except Exception as exc:  # a store failure must not kill the worker: log, retry later
                log.error("channel %s: delivery pass failed: %s", dest.label, exc)
                return PassResult(error=str(exc), next_due=self.clock() + self.policy.cap)

    def _report(self, dest: Destination, result: PassResult | None) -> UrlReport:
        left = len(self.store.undelivered(dest.key))
        if result is None:  # still running when the time ran out
            return UrlReport(dest.label, dest.sender.display(), pending=left, error="timed out")
        return UrlReport(
            dest.label,
            dest.sender.display(),
            sent=result.sent,
            failed=result.failed,
            dropped=result.dropped,
            pending=left,
            error=result.error,
        )
