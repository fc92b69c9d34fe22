"""Bitget's WebSockets (DESIGN 13): mark ticks and private pushes, kept alive whatever happens.

Two sockets, each a thread running websockets' sync client (a maintained RFC 6455
implementation: no frame parsing of our own):
- *public*: the ``ticker`` channel of every held symbol, subscribed and unsubscribed as
  ``set_symbols`` says; idle (not connected) while nothing is held, since Bitget drops a socket
  without a subscription;
- *private*: login, then the ``positions`` and ``account`` channels.

Keeping them alive, per Bitget's docs (common/websocket-intro): the text frame ``ping`` every 25 s
whatever the traffic (Bitget drops a socket after 2 minutes without one; its docs ask for one
within 30 s); a socket that sent no frame at all for 30 s (pongs count), closed, failed or refused
its login is reconnected with exponential backoff and jitter, never faster than one attempt per
2 s per socket (Bitget allows 300 connection requests per IP per 5 minutes: two sockets at that
floor make at most 300), and the backoff only resets once a connection stayed up for 30 s (a
server that accepts and drops at once is not hammered). After a reconnect everything wanted is
subscribed again, in one request per socket (Bitget counts 240 subscription requests per hour).

What arrives goes to a ``Listener`` (ticks, private pushes, up/down): this module decides nothing
about alerts. Secrets: the login frame is never logged.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from riskwatch.exchange import wsproto
from riskwatch.exchange.credentials import Credentials

log = logging.getLogger("riskwatch.stream")


@dataclass(frozen=True, slots=True)
class Timing:
    """Heartbeat and reconnect policy; the defaults are Bitget's, tests shrink them."""

    ping_every: float = 25.0
    silent_after: float = 30.0
    min_gap: float = 2.0  # between two connection attempts of one socket
    max_backoff: float = 60.0
    steady: float = 30.0  # a connection up this long resets the backoff
    open_timeout: float = 10.0  # handshake, and the login answer


class Listener(Protocol):
    def tick(self, tick: wsproto.Tick) -> None: ...

    def private(self, push: wsproto.Private) -> None: ...

    def state(self, socket: str, up: bool, reason: str) -> None: ...


class Dropped(Exception):
    """The socket must be reconnected; the message says why, in one line."""


class Socket:
    """One WebSocket, reconnected forever until ``close``."""

    def __init__(
        self,
        name: str,
        url: str,
        listener: Listener,
        *,
        timing: Timing,
        creds: Credentials | None = None,
        server_time: Callable[[], float] = time.time,
        wanted: list[dict[str, str]] | None = None,
        idle_when_empty: bool = False,
        rng: random.Random | None = None,
    ) -> None:
        self.name, self.url, self.listener, self.timing = name, url, listener, timing
        self._creds, self._server_time = creds, server_time
        self._wanted = {wsproto.key(a): a for a in wanted or []}
        self._subscribed: dict[tuple[str, ...], dict[str, str]] = {}
        self._idle_when_empty = idle_when_empty
        self._rng = rng or random.Random()
        self._lock = threading.Lock()  # guards the connection, sends and the two maps
        self._conn: Any = None  # once logged in and subscribed
        self._open: Any = None  # from the handshake on, so that ``stop`` can end a login
        self._changed = threading.Event()
        self._stop = threading.Event()
        self.connects = 0  # successful sessions (login and subscriptions done)
        self._thread = threading.Thread(target=self._run, name=f"riskwatch-ws-{name}", daemon=True)

    # ------------------------------------------------------------------ control
    def start(self) -> None:
        self._thread.start()

    def want(self, args: list[dict[str, str]]) -> None:
        """Subscribe to exactly ``args`` from now on (at once when connected)."""
        idle = None
        with self._lock:
            self._wanted = {wsproto.key(a): a for a in args}
            if self._conn is not None and self._idle_when_empty and not self._wanted:
                idle = self._conn  # nothing left to watch: close rather than sit unsubscribed
            elif self._conn is not None:
                self._sync()
        if idle is not None:
            idle.close()
        self._changed.set()

    def close(self, timeout: float = 2.0) -> None:
        self.stop()
        self._thread.join(timeout)

    def stop(self) -> None:
        """End the thread soon, without waiting: a login waiting for its answer ends now, a
        handshake in progress (up to ``open_timeout``) when it is done."""
        self._stop.set()
        self._changed.set()
        with self._lock:
            conn = self._open
        if conn is not None:
            conn.close()

    def join(self, timeout: float) -> None:
        self._thread.join(max(0.0, timeout))

    # ------------------------------------------------------------------ the loop
    def _run(self) -> None:
        failures = 0  # in a row, each connection shorter than ``steady``
        gap = self.timing.min_gap
        last_attempt = -1e9
        while not self._stop.is_set():
            if self._idle_when_empty and not self._wanted:
                self.listener.state(self.name, True, "idle: nothing to watch")
                self._changed.wait()
                self._changed.clear()
                continue
            wait = last_attempt + gap - time.monotonic()  # attempts start >= min_gap apart
            if wait > 0 and self._stop.wait(wait):
                return
            last_attempt = started = time.monotonic()
            reason = self._attempt()
            if self._stop.is_set():
                return
            if self._idle_when_empty and not self._wanted:
                continue  # closed on purpose: idle, not down
            self.listener.state(self.name, False, reason)
            lasted = time.monotonic() - started >= self.timing.steady
            failures = 1 if lasted else failures + 1
            gap = backoff(failures, self.timing, self._rng)
            log.info("%s WebSocket: %s; reconnecting in %.1fs", self.name, reason, gap)

    def _attempt(self) -> str:
        """One connection, until it fails: returns why, in one line."""
        from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
        from websockets.sync.client import connect

        try:
            conn = connect(
                self.url,
                open_timeout=self.timing.open_timeout,
                ping_interval=None,  # Bitget wants the text frame "ping", sent below
                close_timeout=1.0,
                max_size=2**22,
            )
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            return f"cannot connect to {self.url}: {_why(exc)}"
        except Exception as exc:  # e.g. a proxy from the environment it cannot use: the
            # thread must go on retrying and say "down", never die and leave a silent "up"
            return f"cannot connect to {self.url}: {type(exc).__name__}: {_why(exc)}"
        with self._lock:
            self._open = conn
        if self._stop.is_set():  # closed while the handshake ran
            conn.close()
        try:
            with conn:
                self._session(conn)
        except Dropped as exc:
            return str(exc)
        except ConnectionClosed as exc:
            return f"closed by the other end ({exc.rcvd.code if exc.rcvd else 'no close frame'})"
        except OSError as exc:
            return f"connection lost: {_why(exc)}"
        except Exception as exc:  # a bug must not end the thread and leave a silent "up"
            log.error("%s WebSocket: internal error: %s: %s", self.name, type(exc).__name__, exc)
            return f"internal error ({type(exc).__name__})"
        finally:
            with self._lock:
                self._conn = self._open = None
                self._subscribed.clear()
        return "closed"

    def _session(self, conn: Any) -> None:
        if self._creds is not None:
            self._login(conn)
        if self._stop.is_set():  # closed meanwhile: an "up" now would be a stream's ghost
            return
        with self._lock:
            self._conn = conn
            self._sync()
        self.connects += 1
        self.listener.state(self.name, True, "")
        t = self.timing
        last_frame = time.monotonic()
        next_ping = last_frame + t.ping_every
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= next_ping:
                self._send(conn, "ping")
                next_ping += t.ping_every  # whatever the traffic (DESIGN 13)
                if next_ping <= now:  # a stalled thread sends one ping, not a burst
                    next_ping = now + t.ping_every
            if now - last_frame >= t.silent_after:
                raise Dropped(f"silent for {t.silent_after:g}s (no frame at all)")
            try:
                text = conn.recv(
                    timeout=max(0.0, min(next_ping, last_frame + t.silent_after) - now)
                )
            except TimeoutError:
                continue
            last_frame = time.monotonic()
            self._handle(text)

    def _login(self, conn: Any) -> None:
        c = self._creds
        assert c is not None
        conn.send(wsproto.login(c.api_key, c.api_secret, c.passphrase, self._server_time()))
        deadline = time.monotonic() + self.timing.open_timeout
        while True:
            try:
                text = conn.recv(timeout=max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                raise Dropped("no answer to the login") from None
            msg = wsproto.parse(text) if isinstance(text, str) else None
            ok = isinstance(msg, dict) and str(msg.get("code", "0")) in ("0", "00000")
            if ok and msg.get("event") == "login":  # type: ignore[union-attr]
                return
            if isinstance(msg, dict) and msg.get("event") in ("login", "error"):
                code, why = str(msg.get("code", "")), str(msg.get("msg", ""))[:120]
                raise Dropped(f"login refused: {code} {why}".rstrip())

    def _sync(self) -> None:
        """Send what changed between wanted and subscribed (lock held, connected)."""
        gone = [a for k, a in self._subscribed.items() if k not in self._wanted]
        new = [a for k, a in self._wanted.items() if k not in self._subscribed]
        if gone:
            self._send(self._conn, wsproto.request("unsubscribe", gone))
        if new:
            self._send(self._conn, wsproto.request("subscribe", new))
        self._subscribed = dict(self._wanted)

    def _send(self, conn: Any, text: str) -> None:
        try:
            conn.send(text)
        except Exception as exc:  # the reader notices the broken socket; say it once here
            log.debug("%s WebSocket: send failed: %s", self.name, _why(exc))

    def _handle(self, text: object) -> None:
        if not isinstance(text, str):
            return
        msg = wsproto.parse(text)
        if isinstance(msg, list):
            for tick in msg:
                self.listener.tick(tick)
        elif isinstance(msg, wsproto.Private):
            self.listener.private(msg)
        elif isinstance(msg, dict) and msg.get("event") == "error":
            log.warning(
                "%s WebSocket: Bitget answered error %s: %s",
                self.name,
                msg.get("code"),
                str(msg.get("msg", ""))[:120],
            )


class Stream:
    """The public and the private socket of one account, and what they subscribe to."""

    def __init__(
        self,
        listener: Listener,
        *,
        dialect: str,
        public_url: str,
        private_url: str,
        creds: Credentials,
        product_types: tuple[str, ...],
        server_time: Callable[[], float] = time.time,
        timing: Timing | None = None,
    ) -> None:
        self.dialect = dialect
        t = timing or Timing()
        self.public = Socket("public", public_url, listener, timing=t, idle_when_empty=True)
        private = wsproto.private_args(dialect, product_types)
        self.private = Socket(
            "private",
            private_url,
            listener,
            timing=t,
            creds=creds,
            server_time=server_time,
            wanted=private,
        )
        self._symbols: frozenset[tuple[str, str]] = frozenset()

    def start(self) -> Stream:
        self.public.start()
        self.private.start()
        return self

    def set_symbols(self, symbols: frozenset[tuple[str, str]]) -> None:
        """Watch the ticker of exactly these (product_type, symbol): the held ones."""
        if symbols == self._symbols:
            return
        self._symbols = symbols
        self.public.want([wsproto.ticker_arg(self.dialect, pt, s) for pt, s in sorted(symbols)])

    def close(self, timeout: float = 2.0) -> None:
        """Stop both sockets at once, then wait for them together (at most ``timeout``): the
        daemon's shutdown grace is shared with the delivery and the store."""
        for s in (self.public, self.private):
            s.stop()
        deadline = time.monotonic() + timeout
        for s in (self.public, self.private):
            s.join(deadline - time.monotonic())


def backoff(failures: int, timing: Timing, rng: random.Random) -> float:
    """Seconds from one connection attempt to the next after ``failures`` short-lived ones in
    a row: exponential from ``min_gap`` up to ``max_backoff``, half of it random (jitter, so
    many clients do not reconnect in step), never under ``min_gap`` (Bitget's rate limit)."""
    base = min(timing.max_backoff, timing.min_gap * 2 ** min(max(failures, 1) - 1, 30))
    return max(timing.min_gap, base / 2 + rng.uniform(0.0, base / 2))


def _why(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:160]
