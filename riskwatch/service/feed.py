"""``feed: stream``: between the WebSocket threads and the daemon loop (DESIGN 13).

The stream's threads only record what arrived (the newest mark per symbol, "a private channel
pushed", which socket is down since when) and set one wake-up event; the daemon loop, the one
thread that evaluates and writes the store, asks ``due`` what to do:
- ``"marks"``: re-evaluate the last poll with the new marks, at most ``MAX_EVALS`` times a
  second (ticks arriving faster are coalesced: only the newest mark of each symbol counts);
- ``"poll"``: a private push (an order, a fill, a transfer) asks for a reconciling REST poll at
  once, at most one per ``MIN_POLL_GAP`` (Bitget's all-position allows 5 requests/s).
REST polling at ``poll_interval`` goes on whatever the stream does: it stays the source of truth.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from decimal import Decimal

from riskwatch.core.marks import Mark, MarkKey
from riskwatch.durations import to_text
from riskwatch.exchange import wsproto
from riskwatch.exchange.credentials import Credentials
from riskwatch.exchange.stream import Stream, Timing
from riskwatch.model import ExchangeSettings, Snapshot
from riskwatch.service.cycle import Outcome

log = logging.getLogger("riskwatch.stream")

MAX_EVALS = 10  # per second
MIN_POLL_GAP = 1.0  # seconds between two polls asked for by private pushes
# A tick stamped further ahead of Bitget's clock than this is dropped: one bad ``ts`` would
# otherwise stand as the newest mark for ever, hiding every later tick and every poll.
FUTURE_SLACK = 60.0


class StreamFeed:
    """The ``Listener`` of ``exchange.stream`` and the daemon's second source of wake-ups."""

    def __init__(
        self,
        settings: ExchangeSettings,
        creds: Credentials,
        *,
        server_time: Callable[[], float] = time.time,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        timing: Timing | None = None,
    ) -> None:
        self.settings = settings
        self._creds = creds
        self._server_time = server_time
        self._clock = clock
        self._monotonic = monotonic
        self._timing = timing
        self.wake = threading.Event()
        self._lock = threading.Lock()
        self._marks: dict[MarkKey, Mark] = {}
        self._evaluated: dict[MarkKey, Decimal] = {}  # the prices the last evaluation saw
        self._dirty = False
        self._poll_wanted = False
        self._held = False  # hold_polls
        self._last_eval = float("-inf")
        self._last_poll = float("-inf")
        self._down: dict[str, tuple[float, str]] = {}  # socket -> (since, reason)
        self.stream: Stream | None = None
        self.ticks = 0
        self.evaluations = 0

    # ------------------------------------------------------------------ from the sockets
    def tick(self, tick: wsproto.Tick) -> None:
        key = (tick.product_type, tick.symbol)
        if tick.at > self._server_time() + FUTURE_SLACK:
            return  # from the future: it would outrank every later tick and poll
        with self._lock:
            old = self._marks.get(key)
            if old is not None and tick.at < old.at:
                return  # out of order: the newer mark stands
            self._marks[key] = Mark(tick.mark, tick.at)
            self.ticks += 1
            if self._evaluated.get(key) == tick.mark or self._dirty:
                return  # nothing new, or the loop already naps until the evaluation is due
            self._dirty = True
        self.wake.set()

    def private(self, push: wsproto.Private) -> None:
        with self._lock:
            if self._poll_wanted:
                return
            self._poll_wanted = True
        self.wake.set()

    def state(self, socket: str, up: bool, reason: str) -> None:
        with self._lock:
            was = self._down.get(socket)
            if up:
                self._down.pop(socket, None)
            else:
                self._down[socket] = (was[0] if was else self._clock(), reason)
        if not up and was is None:
            log.warning("%s WebSocket down: %s; polling goes on", socket, reason)
        elif up and was is not None:
            log.info("%s WebSocket up again after %s", socket, to_text(int(self._clock() - was[0])))
        self.wake.set()

    # ------------------------------------------------------------------ for the daemon
    def down(self) -> tuple[float, str] | None:
        """Since when (the earliest) and why a socket is down; None while all are up."""
        with self._lock:
            if not self._down:
                return None
            since, reason = min(self._down.values())
            names = ", ".join(sorted(self._down))
            return since, f"{names} WebSocket: {reason}"

    def due(self, now: float) -> str | None:
        with self._lock:
            self._poll_wanted = self._poll_wanted and not self._held  # declined, not pending
            if self._poll_wanted and now - self._last_poll >= MIN_POLL_GAP:
                return "poll"
            if self._dirty and now - self._last_eval >= 1.0 / MAX_EVALS:
                return "marks"
        return None

    def hold_polls(self, held: bool) -> None:
        """While ``held`` (the last poll was refused or told to wait: Retry-After), pushes ask
        for no poll: the loop's backoff schedules them, and a busy account's pushes must not
        poll through it once a second."""
        with self._lock:
            self._held = held

    def polled(self, outcome: Outcome) -> None:
        """After a poll the pushes asked for: hold further ones if it was refused or told to
        wait, until the loop's schedule polls again."""
        told = outcome.error is not None and outcome.error.retry_after is not None
        self.hold_polls(outcome.refused or told)

    def next_due(self, now: float) -> float | None:
        """Seconds until something already pending may run; None when nothing is pending."""
        with self._lock:
            waits = []
            if self._poll_wanted:
                waits.append(self._last_poll + MIN_POLL_GAP - now)
            if self._dirty:
                waits.append(self._last_eval + 1.0 / MAX_EVALS - now)
        return max(0.0, min(waits)) if waits else None

    def wait(self, timeout: float) -> None:
        self.wake.wait(timeout)
        self.wake.clear()  # before the loop reads the state: a later set is never lost

    def take_marks(self) -> dict[MarkKey, Mark]:
        with self._lock:
            self._dirty = False
            self._last_eval = self._monotonic()
            self.evaluations += 1
            self._evaluated = {k: m.price for k, m in self._marks.items()}
            return dict(self._marks)

    def observe(self, snapshot: Snapshot | None) -> None:
        """After each poll: follow the held symbols (subscribe, unsubscribe), start the stream
        on the first good poll, and restart it when the account mode (v2 / v3) changed."""
        with self._lock:
            self._last_poll = self._monotonic()
            self._poll_wanted = False
            self._evaluated.clear()  # the poll's marks replaced them: the next tick counts
        if snapshot is None:
            return
        held = frozenset((p.product_type, p.symbol) for p in snapshot.positions)
        with self._lock:
            for key in [k for k in self._marks if k not in held]:
                del self._marks[key]
        dialect = "v3" if snapshot.account_mode == "unified" else "v2"
        if self.stream is not None and self.stream.dialect != dialect:
            log.info("account mode changed: WebSocket follows the %s API", dialect)
            self.stream.close()
            self.stream = None
        if self.stream is None:
            self.stream = self._build(dialect).start()
        self.stream.set_symbols(held)

    def _build(self, dialect: str) -> Stream:
        s = self.settings
        public, private = wsproto.default_urls(dialect, s.demo)
        return Stream(
            self,
            dialect=dialect,
            public_url=s.ws_public_url or public,
            private_url=s.ws_private_url or private,
            creds=self._creds,
            product_types=s.product_types,
            server_time=self._server_time,
            timing=self._timing or Timing(),
        )

    def close(self) -> None:
        if self.stream is not None:
            self.stream.close()
        self.wake.set()
