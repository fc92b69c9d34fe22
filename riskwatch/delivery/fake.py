"""A real local HTTP receiver for notification tests (apprise's ``json://`` plugin posts to it;
it stands in for an Alertmanager too: ``http_url`` is its base URL).

Shipped in the package, like structlog's testing module, so every test (and the lead's
integration tests) can deliver through real apprise to a real socket instead of mocking. It
records each accepted JSON payload and can be scripted to answer 429 (with or without
Retry-After), 500, to refuse messages by their content (``fail_if``), to hang (bounded), or to
be down (listening socket closed) and come back on the same port.

    with Receiver() as rx:
        rx.fail(2, status=429)           # the next two requests get 429
        send_to(rx.url)                  # "json://127.0.0.1:PORT/"
        assert rx.wait_for(1, timeout=5)
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True, slots=True)
class Received:
    path: str
    title: str
    body: str
    payload: dict[str, Any]
    at: float = 0.0  # time.monotonic() of its arrival
    data: Any = None  # the decoded JSON as sent (a list for an Alertmanager post)


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int = 200
    retry_after: str | None = None
    hang: float = 0.0  # seconds to wait before answering (bounded by Receiver.max_hang)
    record_first: bool = False  # a slow service: the message is recorded, then the answer waits
    trickle: float = 0.0  # record, then send the answer one byte every this many seconds


class Receiver:
    """Thread-safe scripted receiver on 127.0.0.1 (ephemeral port, stable across down/up)."""

    def __init__(self, max_hang: float = 30.0) -> None:
        self.max_hang = max_hang
        self._lock = threading.Condition()
        self._script: deque[_Answer] = deque()
        self._default = _Answer()
        self._content_rule: tuple[Callable[[str], bool], _Answer] | None = None
        self._received: list[Received] = []
        self.requests = 0  # every request seen, accepted or not
        self._released = 0  # bumped (under _lock) to end the hangs in progress, not later ones
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.start()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Listen (again, on the same port once one was chosen)."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver._handle(self)

            do_GET = do_POST

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def down(self) -> None:
        """Close the listening socket: connections are refused until ``up()``."""
        if self._server is not None:
            self.release()
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def up(self) -> None:
        if self._server is None:
            self.start()

    stop = down

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()

    # ------------------------------------------------------------------ addresses

    @property
    def url(self) -> str:
        """The apprise URL of this receiver."""
        return f"json://127.0.0.1:{self.port}/"

    def url_for(self, path: str = "", *, user: str = "", password: str = "", **query: str) -> str:
        """An apprise URL for ``path`` (e.g. to give two URLs one receiver), optionally with
        credentials (tests use them as the secret token) and query parameters (``rto``...)."""
        auth = f"{user}:{password}@" if user or password else ""
        q = "&".join(f"{k}={v}" for k, v in query.items())
        return f"json://{auth}127.0.0.1:{self.port}/{path.lstrip('/')}" + (f"?{q}" if q else "")

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    # ------------------------------------------------------------------ scripting

    def fail(self, times: int = 1, *, status: int = 500, retry_after: float | None = None) -> None:
        """The next ``times`` requests get ``status`` (with Retry-After when given)."""
        ra = None if retry_after is None else str(int(retry_after))
        with self._lock:
            self._script.extend(_Answer(status, ra) for _ in range(times))

    def hang(self, times: int = 1, seconds: float = 10.0) -> None:
        """The next ``times`` requests wait ``seconds`` (at most ``max_hang``), then answer 200
        without recording the payload (the client has given up by then: the message is lost)."""
        with self._lock:
            self._script.extend(_Answer(hang=min(seconds, self.max_hang)) for _ in range(times))

    def slow(self, times: int = 1, seconds: float = 60.0) -> None:
        """The next ``times`` requests are recorded (the message arrived), then answered only
        after ``seconds`` (at most ``max_hang``): the client cannot know it was received."""
        with self._lock:
            self._script.extend(
                _Answer(hang=min(seconds, self.max_hang), record_first=True) for _ in range(times)
            )

    def trickle(self, times: int = 1, every: float = 0.5) -> None:
        """The next ``times`` requests are recorded, then answered one byte every ``every``
        seconds (for at most ``max_hang``): no read ever times out, the answer never ends."""
        with self._lock:
            self._script.extend(_Answer(trickle=every, record_first=True) for _ in range(times))

    def fail_if(self, predicate: Callable[[str], bool] | None, *, status: int = 400) -> None:
        """Answer ``status`` to every request whose body (the raw JSON text) satisfies
        ``predicate``, before any scripted answer (a permanent error for one message's content,
        such as Telegram's "message is too long"); None ends it."""
        with self._lock:
            self._content_rule = None if predicate is None else (predicate, _Answer(status))

    def always(self, status: int = 200, *, retry_after: float | None = None) -> None:
        """Answer every unscripted request with ``status`` (200 restores normal service)."""
        with self._lock:
            ra = None if retry_after is None else str(int(retry_after))
            self._default = _Answer(status, ra)

    def release(self) -> None:
        """End every current hang now (a hang scripted afterwards hangs again)."""
        with self._lock:
            self._released += 1
            self._lock.notify_all()

    # ------------------------------------------------------------------ observing

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def bodies(self) -> list[str]:
        return [r.body for r in self.received]

    def wait_for(self, n: int, timeout: float = 10.0) -> bool:
        """Block until at least ``n`` payloads were accepted (True) or ``timeout`` passes."""
        with self._lock:
            return self._lock.wait_for(lambda: len(self._received) >= n, timeout)

    # ------------------------------------------------------------------ serving

    def _handle(self, req: BaseHTTPRequestHandler) -> None:
        length = int(req.headers.get("Content-Length") or 0)
        raw = req.rfile.read(length) if length else b""
        with self._lock:
            self.requests += 1
            released = self._released
            rule = self._content_rule
            if rule is not None and rule[0](raw.decode("utf-8", "replace")):
                answer = rule[1]
            else:
                answer = self._script.popleft() if self._script else self._default
        if answer.record_first:
            self._record(req, raw)
        if answer.trickle:
            return self._trickle(req, answer.trickle, released)
        if answer.hang:
            with self._lock:
                self._lock.wait_for(lambda: self._released != released, answer.hang)
        # A hung request is never recorded: its client gave up, so it counts as lost.
        if answer.status == 200 and not answer.hang:
            self._record(req, raw)
        try:
            req.send_response(answer.status)
            if answer.retry_after is not None:
                req.send_header("Retry-After", answer.retry_after)
            req.send_header("Content-Type", "application/json")
            req.send_header("Content-Length", "2")
            req.end_headers()
            req.wfile.write(b"{}")
        except OSError:
            pass  # the client gave up (timeout) while we hung

    def _record(self, req: BaseHTTPRequestHandler, raw: bytes) -> None:
        try:
            data = json.loads(raw or b"{}")
        except ValueError:
            data = {"raw": raw.decode("utf-8", "replace")}
        payload = data if isinstance(data, dict) else {}
        title, body = str(payload.get("title", "")), str(payload.get("message", ""))
        got = Received(req.path, title, body, payload, time.monotonic(), data)
        with self._lock:
            self._received.append(got)
            self._lock.notify_all()

    def _trickle(self, req: BaseHTTPRequestHandler, every: float, released: int) -> None:
        body = b"{}" + b" " * 10_000
        end = time.monotonic() + self.max_hang
        try:
            req.send_response(200)
            req.send_header("Content-Type", "application/json")
            req.send_header("Content-Length", str(len(body)))
            req.end_headers()
            for i in range(len(body)):
                with self._lock:
                    if self._lock.wait_for(lambda: self._released != released, every):
                        break
                if time.monotonic() > end:
                    break
                req.wfile.write(body[i : i + 1])
                req.wfile.flush()
        except OSError:
            pass
