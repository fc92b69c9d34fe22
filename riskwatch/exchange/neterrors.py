"""What went wrong on the wire, in the words an operator acts on.

``requests`` wraps a failure three or four levels deep (ConnectionError > MaxRetryError >
NewConnectionError > ConnectionRefusedError); its message is a paragraph that names the cause
somewhere in the middle. ``cause`` walks that chain and says it in one short line: name not
resolved, connection refused, TLS certificate or protocol, timed out after N s, closed by the
server. ``excerpt`` gives the start of a body that is not Bitget's JSON (a proxy's 502 page)
for an "HTTP status" line. Only ``transport`` calls these: it is the one requests user.
"""

from __future__ import annotations

import http.client
import re
import socket
import ssl
from collections.abc import Iterator
from urllib.parse import urlsplit

import requests

EXCERPT = 80


def cause(exc: requests.RequestException, host: str, connect: float, read: float) -> str:
    """One line naming why ``host`` (``https://name:port``) did not answer."""
    chain = list(_chain(exc))
    netloc = urlsplit(host).netloc or host
    name = urlsplit(host).hostname or host
    tls = next((e for e in chain if isinstance(e, ssl.SSLError)), None)
    if tls is not None or isinstance(exc, requests.exceptions.SSLError):
        return _tls(tls, exc, netloc)
    if isinstance(exc, requests.ConnectTimeout):
        return f"timed out after {connect:g} s connecting to {netloc}"
    if isinstance(exc, requests.Timeout) or _has(chain, TimeoutError, socket.timeout):
        return f"timed out after {read:g} s waiting for {netloc} to answer"
    if _has(chain, socket.gaierror) or any("NameResolution" in type(e).__name__ for e in chain):
        return f"name not resolved: {name} (DNS)"
    if _has(chain, ConnectionRefusedError):
        return f"connection refused by {netloc}"
    if _has(chain, ConnectionResetError, http.client.RemoteDisconnected, BrokenPipeError):
        return f"connection closed by {netloc} before it answered"
    last = chain[-1]
    detail = getattr(last, "strerror", None) or type(last).__name__
    return f"connection to {netloc} failed ({detail})"


def deadline(total: float, host: str) -> str:
    """The request's total deadline passed (``bounded``): a trickling or silent host."""
    return f"timed out after {total:g} s: no complete answer from {urlsplit(host).netloc or host}"


def excerpt(body: bytes) -> str:
    """The start of a body as one quoted line: markup dropped, whitespace collapsed."""
    text = body[: EXCERPT * 8].decode("utf-8", "replace")
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", text, flags=re.S | re.I)
    text = " ".join(re.sub(r"<[^>]*>", " ", text).split())
    text = "".join(c if c.isprintable() else "?" for c in text)
    if not text:
        return "(empty body)"
    return repr(text if len(text) <= EXCERPT else text[: EXCERPT - 3] + "...")


def _tls(err: ssl.SSLError | None, exc: BaseException, netloc: str) -> str:
    if isinstance(err, ssl.SSLCertVerificationError):
        why = err.verify_message or "not trusted"
        return f"TLS certificate of {netloc} not accepted: {why}"
    text = str(err or exc)
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return f"TLS certificate of {netloc} not accepted"
    reason = getattr(err, "reason", None) or "handshake failed"
    return f"TLS protocol error with {netloc}: {str(reason).lower().replace('_', ' ')}"


def _has(chain: list[BaseException], *kinds: type[BaseException]) -> bool:
    return any(isinstance(e, kinds) for e in chain)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything it wraps: causes, contexts, urllib3's ``reason`` and
    requests' habit of passing the inner exception as the first argument."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        e = todo.pop(0)
        if id(e) in seen or len(seen) > 16:
            continue
        seen.add(id(e))
        yield e
        for nxt in (e.__cause__, e.__context__, getattr(e, "reason", None), *e.args[:1]):
            if isinstance(nxt, BaseException):
                todo.append(nxt)
