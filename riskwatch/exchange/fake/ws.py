"""The simulator's WebSockets: Bitget's public and private endpoints on 127.0.0.1.

``FakeBitgetWS(fake).start()`` serves ``/v2/ws/public``, ``/v2/ws/private``, ``/v3/ws/public``
and ``/v3/ws/private`` (either dialect is understood on any path, answered in the dialect it
was spoken in) over websockets' sync server, beside the REST simulator whose book it watches
through ``Book.listeners``: every mark change is a ``ticker`` push to the sockets subscribed to
that symbol, every opened, closed or resized position a ``positions`` push. As Bitget does: the
text ``ping`` is answered ``pong``; login is checked (key, passphrase, timestamp within 30 s of
the simulator's clock, signature over timestamp + "GET" + "/user/verify"); private channels need
a login; a subscription is answered by an event and an initial snapshot. The ticker's
``lastPr`` differs from its ``markPrice`` on purpose (riskwatch must read the mark).

Faults for tests: ``drop()`` closes every socket, ``mute()`` stops all frames (pongs included)
so the client must notice the silence, ``unmute()`` ends that.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import logging
import queue
import threading
from decimal import Decimal
from typing import Any

from riskwatch.exchange.fake.server import FakeBitget
from riskwatch.exchange.fake.state import _s

LOGIN_CODES = {"key": "30011", "passphrase": "30012", "timestamp": "30013", "sign": "30015"}


class _Session:
    def __init__(self, conn: Any, private: bool) -> None:
        self.conn = conn
        self.private = private
        self.logged_in = False
        self.subs: dict[tuple[str, ...], dict[str, str]] = {}
        self.lock = threading.Lock()

    def send(self, payload: Any) -> None:
        text = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
        with self.lock, contextlib.suppress(Exception):  # a gone socket: its handler ends
            self.conn.send(text)


class FakeBitgetWS:
    def __init__(self, fake: FakeBitget) -> None:
        self.fake = fake
        self._sessions: set[_Session] = set()
        self._lock = threading.Lock()
        self._muted = threading.Event()
        self._events: queue.Queue[tuple[str, Any] | None] = queue.Queue()
        self._marks: dict[tuple[str, str], Decimal] = {}
        self._held: dict[tuple[str, str, str], Decimal] = {}
        self.logins = 0  # accepted logins
        self.refused = 0  # refused logins
        self.connections = 0
        self.pings = 0
        self.ticks_pushed = 0
        self._server: Any = None
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> FakeBitgetWS:
        from websockets.sync.server import serve

        quiet = logging.getLogger("riskwatch.fake.ws")  # no line per connection in the demo
        quiet.setLevel(logging.WARNING)
        self._server = serve(
            self._handle, "127.0.0.1", 0, ping_interval=None, max_size=2**20, logger=quiet
        )
        with self.fake.book.lock:
            self._snapshot_book()
            self.fake.book.listeners.append(self._changed)
        for target, name in ((self._server.serve_forever, "fake-ws"), (self._push, "fake-ws-push")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self) -> None:
        with self.fake.book.lock:
            if self._changed in self.fake.book.listeners:
                self.fake.book.listeners.remove(self._changed)
        self._events.put(None)
        if self._server is not None:
            self.drop()
            self._server.shutdown()
        for t in self._threads:
            t.join(timeout=5)

    def __enter__(self) -> FakeBitgetWS:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def url(self, kind: str, dialect: str = "v2") -> str:
        port = self._server.socket.getsockname()[1]
        return f"ws://127.0.0.1:{port}/{dialect}/ws/{kind}"

    # ------------------------------------------------------------------ faults and views
    def drop(self) -> None:
        """Close every socket, as a network outage or Bitget's daily disconnect would."""
        with self._lock:
            sessions = list(self._sessions)
        for s in sessions:
            s.conn.close()

    def mute(self) -> None:
        self._muted.set()

    def unmute(self) -> None:
        self._muted.clear()

    def subscribed(self, channel: str = "ticker") -> set[str]:
        """Symbols (or instTypes for private channels) subscribed on ``channel``, any socket."""
        out: set[str] = set()
        with self._lock:
            for s in self._sessions:
                for a in s.subs.values():
                    if (a.get("channel") or a.get("topic")) == channel:
                        out.add(a.get("instId") or a.get("symbol") or a.get("instType", ""))
        return out

    @property
    def open_sockets(self) -> int:
        with self._lock:
            return len(self._sessions)

    # ------------------------------------------------------------------ a connection
    def _handle(self, conn: Any) -> None:
        path = conn.request.path if conn.request is not None else ""
        session = _Session(conn, private=path.rstrip("/").endswith("private"))
        with self._lock:
            self._sessions.add(session)
            self.connections += 1
        try:
            for text in conn:
                if self._muted.is_set():
                    continue
                self._answer(session, text)
        except Exception:
            pass  # a broken client: its socket is closed below
        finally:
            with self._lock:
                self._sessions.discard(session)

    def _answer(self, s: _Session, text: Any) -> None:
        if text == "ping":
            self.pings += 1
            s.send("pong")
            return
        try:
            msg = json.loads(text)
            op, args = msg["op"], list(msg.get("args") or [])
        except (ValueError, KeyError, TypeError):
            s.send({"event": "error", "code": "30001", "msg": "illegal request"})
            return
        if op == "login":
            self._login(s, args[0] if args else {})
        elif op in ("subscribe", "unsubscribe"):
            for arg in args:
                self._subscribe(s, op, arg)

    def _login(self, s: _Session, arg: dict[str, Any]) -> None:
        fx = self.fake
        ts = str(arg.get("timestamp", ""))
        want = base64.b64encode(
            hmac.new(
                fx.API_SECRET.encode(), (ts + "GET" + "/user/verify").encode(), hashlib.sha256
            ).digest()
        ).decode()
        problem = None
        if arg.get("apiKey") != fx.API_KEY:
            problem = "key"
        elif arg.get("passphrase") != fx.PASSPHRASE:
            problem = "passphrase"
        elif not ts.isdigit() or abs(fx.now_ms() / 1000 - int(ts)) > fx.WINDOW_MS / 1000:
            problem = "timestamp"
        elif not hmac.compare_digest(want, str(arg.get("sign", ""))):
            problem = "sign"
        if problem is None:
            s.logged_in = True
            self.logins += 1
            s.send({"event": "login", "code": 0})
        else:
            self.refused += 1
            s.send({"event": "error", "code": LOGIN_CODES[problem], "msg": f"invalid {problem}"})

    def _subscribe(self, s: _Session, op: str, arg: Any) -> None:
        if not isinstance(arg, dict):
            return
        arg = {str(k): str(v) for k, v in arg.items()}
        channel = arg.get("channel") or arg.get("topic")
        if channel != "ticker" and (not s.private or not s.logged_in):
            s.send({"event": "error", "code": "30004", "msg": "login first", "arg": arg})
            return
        key = tuple(sorted(arg.items()))
        if op == "unsubscribe":
            s.subs.pop(key, None)
            s.send({"event": "unsubscribe", "arg": arg})
            return
        s.subs[key] = arg
        s.send({"event": "subscribe", "arg": arg})
        with self.fake.book.lock:
            if channel == "ticker":
                first = self._ticker(arg)
            elif channel in ("positions", "position"):
                first = self._positions(arg)
            else:
                first = self._account(arg)
        if first is not None:
            s.send(first)

    # ------------------------------------------------------------------ pushes
    def _snapshot_book(self) -> None:
        """Remember marks and sizes (book lock held) to tell what changed next time."""
        self._marks = {
            (p.product_type, p.symbol): p.mark for p in self.fake.book.positions.values()
        }
        self._held = {k: p.total for k, p in self.fake.book.positions.items()}

    def _changed(self) -> None:
        """Called by the book after each change, its lock held: queue what to push."""
        before_marks, before_held = self._marks, self._held
        self._snapshot_book()
        for key, mark in self._marks.items():
            if before_marks.get(key) != mark:
                self._events.put(("ticker", key))
        moved = {k[0] for k in set(before_held) ^ set(self._held)}
        moved |= {k[0] for k, v in self._held.items() if before_held.get(k, v) != v}
        for pt in moved:
            self._events.put(("positions", pt))

    def _push(self) -> None:
        while (event := self._events.get()) is not None:
            if self._muted.is_set():
                continue
            kind, what = event
            with self._lock:
                sessions = list(self._sessions)
            for s in sessions:
                for arg in list(s.subs.values()):
                    if kind == "ticker" and self._matches_ticker(arg, what):
                        with self.fake.book.lock:
                            msg = self._ticker(arg)
                        if msg is not None:
                            self.ticks_pushed += 1
                            s.send(msg)
                    elif kind == "positions" and self._matches_positions(arg, what):
                        with self.fake.book.lock:
                            s.send(self._positions(arg))

    @staticmethod
    def _matches_ticker(arg: dict[str, str], key: tuple[str, str]) -> bool:
        if (arg.get("channel") or arg.get("topic")) != "ticker":
            return False
        return (arg.get("instType", "").upper(), arg.get("instId") or arg.get("symbol")) == key

    @staticmethod
    def _matches_positions(arg: dict[str, str], pt: str) -> bool:
        if arg.get("channel") == "positions":
            return arg.get("instType", "").upper() == pt
        return arg.get("topic") == "position"

    def _ticker(self, arg: dict[str, str]) -> dict[str, Any] | None:
        pt = arg.get("instType", "").upper()
        symbol = arg.get("instId") or arg.get("symbol") or ""
        mark = self._marks.get((pt, symbol))
        if mark is None:
            return None
        now = self.fake.now_ms()
        last = _s(mark * Decimal("1.001"))  # a last trade off the mark, on purpose
        if "topic" in arg:
            row = {"symbol": symbol, "lastPrice": last, "markPrice": _s(mark), "ts": str(now)}
        else:
            row = {"instId": symbol, "lastPr": last, "markPrice": _s(mark), "ts": str(now)}
        return {"action": "snapshot", "arg": arg, "data": [row], "ts": now}

    def _account(self, arg: dict[str, str]) -> dict[str, Any]:
        book = self.fake.book
        if "topic" in arg:
            rows = [dict(book.unified)]
        else:
            pt = arg.get("instType", "").upper()
            rows = [dict(v) for (t, _), v in book.accounts.items() if t == pt]
        return {"action": "snapshot", "arg": arg, "data": rows, "ts": self.fake.now_ms()}

    def _positions(self, arg: dict[str, str]) -> dict[str, Any]:
        book = self.fake.book.positions.values()
        if "topic" in arg:
            rows = [p.v3() for p in book]
        else:
            pt = arg.get("instType", "").upper()
            rows = []
            for p in book:
                if p.product_type == pt:
                    row = p.v2()
                    row["instId"] = row.pop("symbol")
                    rows.append(row)
        return {"action": "snapshot", "arg": arg, "data": rows, "ts": self.fake.now_ms()}
