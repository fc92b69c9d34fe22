"""The daemon: fixed-rate cycles, signals, reload, systemd notify, heartbeat and metrics.

Threads: the *loop* thread runs cycles and pings the watchdog (so a hung cycle stops the pings
and systemd restarts us); the main thread only waits for signals, so SIGTERM ends the process
within a few seconds even while a request is in flight, abandoning the cycle safely (the store
commits a cycle in one transaction or not at all). Every sleep waits on the ``stop`` event.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from riskwatch.config import load as config_mod
from riskwatch.config.source import MAX_BYTES
from riskwatch.errors import ConfigError, RiskwatchError, StoreError
from riskwatch.model import Config
from riskwatch.render.words import plural
from riskwatch.service.accounts import failed_note, seen
from riskwatch.service.cycle import Outcome, Watcher, count_firing
from riskwatch.service.feed import StreamFeed
from riskwatch.service.sdnotify import Notifier

log = logging.getLogger("riskwatch.daemon")

MAX_BACKOFF = 300.0  # longest wait between polls, whatever the exchange says
RELOAD_AGREE = 1.0  # a changed rules file is read twice this far apart; the reads must agree
RELOAD_DOUBT = 5.0  # ...and stand this long before an error or an alert-ending result counts
SHUTDOWN_GRACE = 4.5  # SIGTERM to exit, at most (systemd's default stop timeout is 90 s)
LOOP_GRACE = 3.0  # of which the loop may take this long to finish a cycle
STATUS_ERROR = 240  # how much of a config error STATUS= shows (systemctl status cuts lines)


@dataclass
class Hooks:
    """Side effects the loop triggers after each cycle; all optional."""

    delivered: Callable[[Outcome], None] = lambda outcome: None  # kick delivery / print
    reconfigure: Callable[[Config], None] = lambda cfg: None
    exported: Callable[[Outcome, Watcher], None] = lambda outcome, watcher: None
    pinged: Callable[[Outcome], None] = lambda outcome: None  # heartbeat_url
    # the state dir cannot be written (the text), or can again (None): tell a human directly
    store_trouble: Callable[[str | None], None] = lambda problem: None
    closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        """Close what the wiring opened (delivery, store, exporter, ...), in order."""
        for close in self.closers:
            close()


class Daemon:
    def __init__(
        self,
        config_path: str,
        watcher: Watcher,
        hooks: Hooks,
        *,
        environ: dict[str, str] | None = None,
        notifier: Notifier | None = None,
        stop: threading.Event | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        wait: Callable[[float], bool] | None = None,
        feed: StreamFeed | None = None,
        load: Callable[[str], Config] | None = None,
    ) -> None:
        self.path = config_path
        self.load = load or (lambda path: config_mod.load(path, environ=self.environ))  # run's
        self.watcher = watcher
        self.hooks = hooks
        self.environ = environ
        self.sd = notifier or Notifier()
        self.stop = stop or threading.Event()
        self.monotonic = monotonic
        self.wait = wait or self.stop.wait  # a test passes a wait that advances a fake clock
        self.hup = threading.Event()
        self.feed = feed  # feed: stream: a second source of "evaluate now" (DESIGN 13)
        self._stream_said: tuple[float, str] | None = None
        self._file_sig = _signature(config_path)
        self._pending: _Pending | None = None
        self._refusals = 0
        self.failed: Exception | None = None
        self._ready_sent = False
        self._last: Outcome | None = None
        self.store_problem: str | None = None  # while the state dir cannot be written

    # ------------------------------------------------------------------ process level
    def run(self) -> int:
        """Install signal handlers, run the loop in its thread, return the exit code: 0, or 1
        when the loop died of an internal error (so ``Restart=on-failure`` starts us again)."""
        handlers = {
            signal.SIGTERM: lambda *_: self.halt(),
            signal.SIGINT: lambda *_: self.halt(),
            signal.SIGHUP: lambda *_: self.hup.set(),
        }
        previous = {sig: signal.signal(sig, h) for sig, h in handlers.items()}
        loop = threading.Thread(target=self.loop, name="riskwatch-loop", daemon=True)
        loop.start()
        try:
            while loop.is_alive() and not self.stop.wait(0.5):
                pass
            if not self.stop.is_set() and self.failed is None:  # the loop died some other way
                self.failed = RuntimeError("the watch loop ended unexpectedly")
        finally:
            self.stop.set()  # also the delivery's: in-flight sends are abandoned soon
            self.sd.stopping()
            deadline = time.monotonic() + SHUTDOWN_GRACE
            loop.join(LOOP_GRACE)
            if loop.is_alive():
                log.warning("stopping in the middle of a cycle; it will be redone at start")
            else:
                self._close(deadline)
            for sig, h in previous.items():
                signal.signal(sig, h)
        log.info("stopped")
        return 1 if self.failed is not None else 0

    def _close(self, deadline: float) -> None:
        """Run the closers (delivery, store, ...) in a thread, for at most what is left of the
        shutdown grace: a send that will not end must not keep the process alive."""

        closing = threading.Thread(target=self.hooks.close, name="riskwatch-close", daemon=True)
        closing.start()
        closing.join(max(0.0, deadline - time.monotonic()))
        if closing.is_alive():
            log.warning("stopping before delivery finished; the outbox keeps what was not sent")

    # ------------------------------------------------------------------ the loop
    def loop(self) -> None:
        """Fixed-rate cycles: the next tick is a multiple of the interval from the first, so a
        slow cycle shortens the next sleep instead of shifting every later poll."""
        next_at = self.monotonic()
        while not self.stop.is_set():
            try:
                self._maybe_reload()
            except RiskwatchError as exc:  # e.g. the store refused the outbox clean-up
                log.error("reload incomplete, will try again on the next change: %s", exc)
            except Exception as exc:
                return self._die(exc)
            now = self.monotonic()
            if now >= next_at:
                try:
                    outcome = self.one_cycle()
                except StoreError as exc:  # e.g. the disk is full: nothing was committed
                    self._store_failed(exc)
                    outcome = None
                except RiskwatchError as exc:
                    log.error("cycle failed, state kept as it was; retrying: %s", exc)
                    outcome = None
                except Exception as exc:  # a bug: exit non-zero, systemd restarts us
                    return self._die(exc)
                finally:
                    self._ready_once()
                interval = self._interval(outcome)
                next_at += interval
                now = self.monotonic()
                if next_at <= now:  # fell behind: skip the missed ticks, do not burst
                    next_at = now + interval - ((now - next_at) % interval)
            elif self.feed is not None and not self._between_polls(now):
                return None
            self.sd.watchdog()
            self._idle(next_at)

    def _between_polls(self, now: float) -> bool:
        """What the stream asks for before the next scheduled poll: an early poll (a private
        push) or the marks re-evaluated. False when the loop must end (an internal error)."""
        assert self.feed is not None
        down = self.feed.down()
        if down != self._stream_said and self._ready_sent:  # STATUS= says it at once
            self._stream_said = down
            self.sd.status(self.status_line(self._last))
        due = self.feed.due(now)
        try:
            if due == "poll":
                self.feed.polled(self.one_cycle())
            elif due == "marks":
                outcome = self.watcher.reevaluate(self.feed.take_marks())
                self.hooks.delivered(outcome)
                self.hooks.exported(outcome, self.watcher)
        except StoreError as exc:  # a full disk: said once, not at every tick
            self._store_failed(exc)
        except RiskwatchError as exc:
            log.error("evaluation failed, state kept as it was: %s", exc)
        except Exception as exc:
            self._die(exc)
            return False
        return True

    def _idle(self, next_at: float) -> None:
        nap = self._nap(next_at - self.monotonic())
        if self.feed is None:
            self.wait(nap)
            return
        soon = self.feed.next_due(self.monotonic())
        self.feed.wait(nap if soon is None else min(nap, soon))

    def halt(self) -> None:
        """Stop the loop now, also from a nap on the stream's wake-up event."""
        self.stop.set()
        if self.feed is not None:
            self.feed.wake.set()

    def one_cycle(self) -> Outcome:
        outcome = self.watcher.cycle()
        if self.feed is not None:
            self.feed.observe(outcome.snapshot)
        if self.store_problem is not None:
            self._store_recovered()
        self._last = outcome
        self.hooks.delivered(outcome)
        self.hooks.exported(outcome, self.watcher)
        if outcome.error is None:
            self.hooks.pinged(outcome)
        if self._ready_sent:
            self.sd.status(self.status_line(outcome))
        return outcome

    def _store_failed(self, exc: StoreError) -> None:
        """The cycle could not be committed (disk full, state dir unwritable): nothing was
        lost (the alert state did not advance, so the next good cycle says it all), but alerts
        are held. Said once, in the log, in STATUS= and to defaults.channels directly."""
        if self.store_problem is None:
            self.store_problem = str(exc)
            log.error("state dir full or unwritable: alerts held, nothing lost yet: %s", exc)
            self.hooks.store_trouble(self.store_problem)
        else:
            log.debug("state dir still unwritable: %s", exc)
        if self._ready_sent:
            self.sd.status(self.status_line(None))

    def _store_recovered(self) -> None:
        log.info("state dir writable again: alerts resume")
        self.store_problem = None
        self.hooks.store_trouble(None)

    def _ready_once(self) -> None:
        """READY follows the first poll attempt, whatever its outcome (DESIGN 8): a first cycle
        that failed must not leave systemd waiting for a start that never completes."""
        if not self._ready_sent:
            self._ready_sent = True
            self.sd.ready(self.status_line(self._last))

    def _die(self, exc: Exception) -> None:
        log.critical("internal error, stopping: %s: %s", type(exc).__name__, exc)
        self.failed = exc
        self.stop.set()

    def _interval(self, outcome: Outcome | None) -> float:
        """The poll interval, longer while the exchange refuses the key (2x per refusal) or
        asked us to wait (its Retry-After outlived the cycle's retry budget), but never past
        ``stale_after / 2``: a Retry-After of an hour must not delay ``riskwatch-stale``."""
        base = self.watcher.cfg.exchange.poll_interval
        cap = min(MAX_BACKOFF, self.watcher.cfg.exchange.stale_after / 2)
        self._refusals = self._refusals + 1 if outcome is not None and outcome.refused else 0
        hint = outcome.error.retry_after if outcome is not None and outcome.error else None
        if self.feed is not None:  # pushes must not poll through the backoff
            self.feed.hold_polls(self._refusals > 0 or hint is not None)
        wait = base
        if self._refusals:
            wait = base * 2 ** min(self._refusals - 1, 10)
        elif hint:
            wait = hint
        return max(base, min(cap, wait))

    def _nap(self, until_next: float) -> float:
        cap = 1.0  # the rules file is checked for changes about once a second
        if self.sd.watchdog_interval:
            cap = min(cap, self.sd.watchdog_interval / 2)
        return max(0.0, min(until_next, cap))

    # ------------------------------------------------------------------ reload
    def _maybe_reload(self) -> None:
        """Reload on SIGHUP at once; on a change on disk once the file has settled: two reads
        ``RELOAD_AGREE`` apart agree and parse. A non-atomic save can pause mid-write, leaving a
        shorter file that still parses, so a result that would end alerts (a rule removed or
        changed) or an error is acted on only once the content has stood ``RELOAD_DOUBT``."""
        if self.hup.is_set():
            self.hup.clear()
            self._file_sig, self._pending = _signature(self.path), None
            return self.reload()
        now = self.monotonic()
        pending = self._pending
        if pending is None:
            sig = _signature(self.path)
            if sig != self._file_sig:
                self._pending = _Pending(_content(self.path), since=now, read_at=now)
            return None
        if now - pending.read_at < RELOAD_AGREE:
            return None
        content = _content(self.path)
        if content != pending.content:  # still being written
            self._pending = _Pending(content, since=now, read_at=now)
            return None
        pending.read_at = now
        if pending.result is None:
            pending.result = self._load()
        result = pending.result
        doubtful = isinstance(result, ConfigError) or self._ends_alerts(result)
        if doubtful and now - pending.since < RELOAD_DOUBT:
            return None
        self._file_sig, self._pending = _signature(self.path), None
        return self._adopt(result)

    def reload(self) -> None:
        self._adopt(self._load())

    def _load(self) -> Config | ConfigError:
        try:
            return self.load(self.path)
        except ConfigError as exc:
            return exc

    def _ends_alerts(self, cfg: Config | ConfigError) -> bool:
        """Whether adopting ``cfg`` removes a rule or changes one's metric, op or scope."""
        if isinstance(cfg, ConfigError):
            return False
        kept = {(r.name, r.metric, r.op, r.scope) for r in cfg.rules}
        return any((r.name, r.metric, r.op, r.scope) not in kept for r in self.watcher.cfg.rules)

    def _adopt(self, result: Config | ConfigError) -> None:
        self.sd.reloading()
        log.info("reloading %s", self.path)
        if isinstance(result, ConfigError):
            exc = result
            extra = f" (and {len(exc.problems) - 1} more)" if len(exc.problems) > 1 else ""
            problem = exc.problems[0] + extra
            log.error("invalid rules file, keeping the last good rules: %s", problem)
            self.watcher.set_config_error(problem)
        else:
            cfg = self.watcher.apply_config(result)  # keeps what changes on restart only
            self.hooks.reconfigure(cfg)
            log.info(
                "rules reloaded: %s, %s",
                plural(len(cfg.rules), "rule"),
                plural(len(cfg.channels), "channel"),
            )
        self.sd.ready(self.status_line(None))

    def status_line(self, outcome: Outcome | None) -> str:
        w = self.watcher
        snap = w.last_snapshot
        positions, last = seen(w.accounts)
        firing = count_firing(w.state)
        when = time.strftime("%H:%M:%S", time.localtime(last)) if last else "never"
        text = f"{plural(positions, 'position')}, {firing} firing, last good poll {when}"
        if outcome is not None:
            text += failed_note(outcome.errors, outcome.error, len(w.accounts) > 1)
        transition = getattr(outcome.error if outcome else None, "transition", None) or (
            snap.account_transition if snap else None
        )
        if transition:
            text += f"; account {transition} between classic and unified mode at Bitget"
        if w.health.config_error:
            text += f"; running on the last good rules: {w.health.config_error}"[:STATUS_ERROR]
        if self.feed is not None:
            down = self.feed.down()
            if down is None:
                text += "; stream up"
            else:
                since = time.strftime("%H:%M:%S", time.localtime(down[0]))
                text += f"; stream down since {since}, polling only ({down[1]})"
        if self.store_problem is not None:
            text += "; state dir full: alerts held, nothing lost yet"
        return text


@dataclass
class _Pending:
    """A changed rules file being watched until it settles."""

    content: bytes | None
    since: float  # when this content was first read
    read_at: float  # when it was last read
    result: Config | ConfigError | None = None  # parsed once the reads agree


def _content(path: str) -> bytes | None:
    try:
        with open(path, "rb") as fh:
            return fh.read(MAX_BYTES + 1)
    except OSError:
        return None


def _signature(path: str) -> tuple | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)
