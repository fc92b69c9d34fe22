"""Logging to stderr, one line per event, and a last line of defence against leaked secrets.

Secrets are never passed to a logger on purpose; ``register_secret`` adds each credential and
channel URL token anyway, and the filter masks them in any record that would carry one (a
library's debug line, an exception text). Timestamps are left out under journald, which adds
its own.
"""

from __future__ import annotations

import logging
import os
import sys
import threading

LEVELS = ("debug", "info", "warning", "error")
_secrets: set[str] = set()
_lock = threading.Lock()
MASK = "***"


def register_secret(value: str | None) -> None:
    """Mask ``value`` wherever it would appear in a log line (values under 6 chars are not
    masked: they would mangle ordinary words and are not credentials)."""
    if value and len(value) >= 6:
        with _lock:
            _secrets.add(value)


def url_pieces(url: str) -> list[str]:
    """The parts of a URL that may be secret, whatever its scheme: the password of its user
    info, every path segment and every query value (``json://host/hooks/TOKEN``,
    ``ntfy://host/TOPIC``, ``?token=...``). Register them with ``register_secret``."""
    _scheme, sep, rest = url.partition("://")
    if not sep:
        return []
    rest, _, fragment = rest.partition("#")
    rest, _, query = rest.partition("?")
    netloc, _, path = rest.partition("/")
    pieces = [seg for seg in path.split("/") if seg]
    userinfo, at, _host = netloc.rpartition("@")
    if at and ":" in userinfo:
        pieces.append(userinfo.split(":", 1)[1])
    for pair in query.split("&"):
        pieces.append(pair.partition("=")[2])
    pieces.append(fragment)
    return [p for p in pieces if p]


def mask_url_path(url: str) -> str:
    """``url`` with every path segment and query value shown as ``***`` (any scheme): a
    webhook's token often sits in its path. Apply it to an already privacy-masked URL (for the
    host and user info) before it is printed anywhere."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    rest = rest.partition("#")[0]
    rest, qsep, query = rest.partition("?")
    netloc, psep, path = rest.partition("/")
    masked = "/".join(MASK if seg else seg for seg in path.split("/")) if psep else ""
    out = f"{scheme}://{netloc}{psep}{masked}"
    if qsep and query:
        out += "?" + "&".join(
            f"{k}={MASK}" if eq else k for k, eq, _v in (p.partition("=") for p in query.split("&"))
        )
    return out


def redact(text: str) -> str:
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for s in secrets:
        if s in text:
            text = text.replace(s, MASK)
    return text


class _RedactingFormatter(logging.Formatter):
    """Masks secrets and keeps every event on one line (an exception's text, or an exchange's
    message with a newline in it, is folded in with " | "), so a log line cannot be forged."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record)).replace("\r", "").replace("\n", " | ")

    def formatException(self, ei) -> str:
        # One line, never a traceback: exceptions are reported by their message.
        return f"{ei[0].__name__}: {ei[1]}" if ei and ei[0] else ""


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record is emitted, not when configured: a
    test runner (or an embedding program) that swaps stderr must not leave us holding a
    closed stream."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def configure(level: str = "info", stream=None) -> None:
    """Send riskwatch's log lines to stderr at ``level``; apprise and websockets stay at
    WARNING (apprise's debug lines carry tokens, websockets' the WebSocket login frame)."""
    under_journald = bool(os.environ.get("JOURNAL_STREAM"))
    fmt = "%(levelname)s %(name)s: %(message)s"
    if not under_journald:
        fmt = "%(asctime)s " + fmt
    handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    handler.setFormatter(_RedactingFormatter(fmt, datefmt="%Y-%m-%dT%H:%M:%S%z"))
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for noisy in ("apprise", "urllib3", "websockets"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
