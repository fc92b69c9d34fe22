"""A requests session whose calls have a *total* deadline and a bounded, decompressed body.

Why: ``requests``' ``timeout`` bounds each gap between bytes, not the request, so a server that
trickles one byte a second (headers or body) holds a poll forever; and ``resp.content``
inflates a 1 MB gzip bomb to 1 GiB in memory before anyone can look at its size.

How:
- *deadline*: each request runs under a ``Watch``; the connection registers its socket with
  the calling thread's watch when the request is sent, and one deadline thread (for all
  requests) shuts that socket down when the deadline passes (connect, headers and body alike),
  so the blocked read returns at once;
- *size*: the body is read raw in chunks and inflated here (gzip, deflate) with
  ``zlib.decompressobj(...).decompress(data, max_length)``, counting decompressed bytes, so a
  bomb is stopped after ``max_bytes`` of output whatever its ratio;
- *redirects* are never followed (the caller sees the 3xx and its ``Location``).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import socket
import threading
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

MAX_BYTES = 16 << 20  # decompressed reply size cap
CHUNK = 64 << 10
_local = threading.local()


class DeadlinePassed(Exception):
    """The request did not complete (connect, headers, whole body) within its deadline."""


class TooLarge(Exception):
    """The reply, decompressed, is larger than the cap."""


class BadEncoding(Exception):
    """The body's Content-Encoding is unknown or its compressed data is corrupt."""


class Watch:
    """One request's deadline: shuts down the socket of the connection in use when it passes."""

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self.done = False
        self._lock = threading.Lock()
        self._conn: Any = None
        self._seconds = max(0.0, seconds)

    def __enter__(self) -> Watch:
        _local.watch = self
        _DEADLINES.add(self, time.monotonic() + self._seconds)
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:  # from here on the deadline shuts nothing down
            self.done = True
            self._conn = None  # back in the pool: the deadline's entry must not hold it
        _local.watch = None

    def attach(self, conn: Any) -> None:
        with self._lock:
            self._conn = conn
            if self.expired:
                _kill(conn)

    def expire(self) -> None:
        with self._lock:
            if self.done:
                return
            self.expired = True
            if self._conn is not None:
                _kill(self._conn)


class _Deadlines:
    """One thread for the deadlines of every request. A ``threading.Timer`` per request started
    a thread per request and waited for it to run: ~0.1 ms on an idle machine, several times
    that on a busy one, for each of a poll's requests. Requests that finish in time are only
    marked done; their entries leave the heap when their deadline comes round."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Start empty, with no thread (also in a forked child: the thread does not survive)."""
        self._cv = threading.Condition()
        self._heap: list[tuple[float, int, Watch]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    def add(self, watch: Watch, at: float) -> None:
        with self._cv:
            heapq.heappush(self._heap, (at, next(self._seq), watch))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="riskwatch-deadlines", daemon=True
                )
                self._thread.start()
            elif self._heap[0][2] is watch:  # sooner than the one the thread waits for
                self._cv.notify()

    def _run(self) -> None:
        with self._cv:
            while True:
                if not self._heap:
                    self._cv.wait()
                    continue
                at, _, watch = self._heap[0]
                left = at - time.monotonic()
                if left > 0 and not watch.done:
                    self._cv.wait(left)
                    continue
                heapq.heappop(self._heap)
                if left <= 0:
                    watch.expire()  # takes only the watch's lock: attach never waits on ours


_DEADLINES = _Deadlines()
os.register_at_fork(after_in_child=_DEADLINES.reset)


def _kill(conn: Any) -> None:
    sock = getattr(conn, "sock", None)
    if sock is None:
        return
    # the plain socket's shutdown: an SSL socket's would tear down its state under a reader
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _watched(base: type) -> type:
    class Watched(base):
        def connect(self) -> None:
            super().connect()
            watch = getattr(_local, "watch", None)
            if watch is not None:
                watch.attach(self)

        def request(self, *args: Any, **kwargs: Any) -> None:
            watch = getattr(_local, "watch", None)
            if watch is not None and self.sock is not None:  # a reused keep-alive connection
                watch.attach(self)
            super().request(*args, **kwargs)

    Watched.__name__ = f"Watched{base.__name__}"
    return Watched


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _watched(HTTPConnection)


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _watched(HTTPSConnection)


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class _Adapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_POOLS)

    def proxy_manager_for(self, *args: Any, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(*args, **kwargs)
        manager.pool_classes_by_scheme = dict(_POOLS)
        return manager


def session(pool_maxsize: int = 8) -> requests.Session:
    """A session whose connections obey ``Watch`` (no retries at this level)."""
    s = requests.Session()
    adapter = _Adapter(pool_connections=2, pool_maxsize=pool_maxsize, max_retries=0)
    s.mount("https://", adapter)
    s.mount("http://", adapter)
    return s


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes  # decompressed


def get(
    s: requests.Session,
    url: str,
    *,
    headers: Mapping[str, str],
    total: float,
    connect: float,
    max_bytes: int = MAX_BYTES,
) -> Reply:
    """GET ``url`` within ``total`` seconds, the body at most ``max_bytes`` once inflated.

    Raises ``DeadlinePassed``, ``TooLarge``, ``BadEncoding``, or what requests raises."""
    headers = {**headers, "Accept-Encoding": "gzip, deflate"}
    with Watch(total) as watch:
        try:
            resp = s.get(
                url,
                headers=headers,
                timeout=(min(connect, total), total),
                stream=True,
                allow_redirects=False,
            )
            try:
                body = _read(resp, max_bytes)
            finally:
                resp.close()
        except (TooLarge, BadEncoding):
            raise
        except Exception as exc:
            if watch.expired:
                raise DeadlinePassed(f"no complete answer within {total:g} s") from exc
            raise
    return Reply(resp.status_code, resp.headers, body)


def _read(resp: requests.Response, max_bytes: int) -> bytes:
    encoding = (resp.headers.get("Content-Encoding") or "identity").strip().lower()
    inflate = _inflater(encoding)
    out: list[bytes] = []
    size = 0
    for raw in resp.raw.stream(CHUNK, decode_content=False):
        for piece in inflate(raw, max_bytes - size + 1):
            size += len(piece)
            if size > max_bytes:
                raise TooLarge(f"reply larger than {max_bytes >> 20} MiB")
            out.append(piece)
    return b"".join(out)


def _inflater(encoding: str) -> Any:
    if encoding in ("identity", ""):
        return lambda data, room: (data,)
    if encoding in ("gzip", "x-gzip"):
        return _Inflate(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return _Inflate(zlib.MAX_WBITS)
    raise BadEncoding(f"unsupported Content-Encoding {encoding[:40]!r}")


class _Inflate:
    """Incremental inflation that never produces more than ``room`` bytes per step."""

    def __init__(self, wbits: int) -> None:
        self._d = zlib.decompressobj(wbits)

    def __call__(self, data: bytes, room: int) -> list[bytes]:
        pieces = []
        try:
            while data:
                piece = self._d.decompress(data, max(1, min(room, CHUNK * 16)))
                data = self._d.unconsumed_tail
                pieces.append(piece)
                room -= len(piece)
                if room <= 0:
                    break
        except zlib.error as exc:
            raise BadEncoding(f"corrupt compressed body ({exc})") from None
        return pieces
