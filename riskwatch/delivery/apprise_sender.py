"""The sending edge: one URL, one send, success or a ``DeliveryError`` (with a retry-after hint).

Why one ``apprise.Apprise`` object per URL: a failure of one URL must never make apprise re-send
to another (a Slack 429 re-sending Telegram). Why lazily: building the first one imports every
apprise plugin (about 0.2 s and 15-45 MiB), which ``console://`` URLs, dry runs and the demo
never pay. apprise's own retries are switched off (``retry = 0``): tenacity retries in
``riskwatch.delivery`` instead, honouring Telegram's "retry after N".

Tokens never leave this module: a URL is shown only in apprise's privacy rendering, and every
part of the URL that the privacy rendering hides is registered with ``logs.register_secret``
so that an apprise log line quoted in an error is masked too.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
import threading
from collections.abc import Iterator
from typing import Any, Protocol, TextIO

from riskwatch import logs
from riskwatch.delivery.console import ConsoleWriter
from riskwatch.errors import ConfigError, DeliveryError
from riskwatch.model import CONSOLE_URLS

UNLIMITED = 1 << 30
# "Too Many Requests: retry after 35, error=429." (Telegram's description, quoted by apprise)
_RETRY_AFTER = re.compile(r"retry[ _-]?after[\"':= ]*(\d+(?:\.\d+)?)", re.IGNORECASE)
_SEPARATORS = re.compile(r"[/:@?&=#,+]")


class Sender(Protocol):
    """Sends to exactly one URL."""

    # Whether a message that waited past ``late_after`` starts with "(delayed 4m12s)": a line
    # a person reads, yes; a document a program reads (Alertmanager's JSON), no.
    marks_late: bool

    def display(self) -> str:
        """The URL as it may be shown: tokens masked."""
        ...

    def limit(self) -> int:
        """Most characters one send may carry (title included)."""
        ...

    def title_separate(self) -> bool:
        """Whether the title travels apart from the body (else it counts against the limit)."""
        ...

    def send(self, title: str, body: str, notify_type: str = "info") -> None:
        """Deliver once, no retry; raise ``DeliveryError`` when not accepted. ``notify_type``
        (info, success, warning, failure) lets the service colour and prioritise it."""
        ...


def is_console(url: str) -> bool:
    return url.strip().lower() in CONSOLE_URLS


def build_sender(url: str, out: TextIO | None = None, *, read_timeout: float = 35.0) -> Sender:
    """``read_timeout``: apprise's per-read timeout, set past the send deadline so that a slow
    answer is judged by the deadline (uncertain, retried once), never by a read timeout that
    apprise reports as an ordinary failure (retried at once: duplicates)."""
    if is_console(url):
        name = CONSOLE_URLS[url.strip().lower()]
        stream = (sys.stderr if name == "stderr" else sys.stdout) if out is None else out
        return ConsoleSender(stream, f"console://{name}" if name == "stderr" else "console://")
    return AppriseSender(url, read_timeout=read_timeout)


def retry_after_in(text: str) -> float | None:
    """The service's "retry after N" (seconds) in an apprise log line, if it says one."""
    m = _RETRY_AFTER.search(text)
    return float(m.group(1)) if m else None


class ConsoleSender:
    marks_late = True

    def __init__(self, stream: TextIO, shown: str) -> None:
        self._writer = ConsoleWriter(stream)
        self._shown = shown

    def display(self) -> str:
        return self._shown

    def limit(self) -> int:
        return UNLIMITED

    def title_separate(self) -> bool:
        return True

    def send(self, title: str, body: str, notify_type: str = "info") -> None:
        try:
            self._writer.write_text(title, body)
        except (OSError, ValueError) as exc:  # closed pipe or stream
            raise DeliveryError(f"{self._shown}: cannot write: {exc}") from exc


class AppriseSender:
    """One URL's apprise object and plugin, built on first use and then reused."""

    marks_late = True

    def __init__(self, url: str, *, read_timeout: float = 35.0) -> None:
        self._url = url
        self._read_timeout = read_timeout
        self._lock = threading.Lock()
        self._apprise: Any = None
        self._plugin: Any = None

    def _build(self) -> tuple[Any, Any]:
        with self._lock:
            if self._apprise is None:
                import apprise

                _detach_apprise_log()
                plugin = instantiate(self._url)
                if plugin is None:
                    raise ConfigError(
                        f"apprise does not understand the URL {_scheme(self._url)}://..."
                    )
                plugin.retry = 0  # tenacity retries, not apprise (a ?retry= in the URL too)
                plugin.socket_read_timeout = max(
                    float(getattr(plugin, "socket_read_timeout", 0) or 0), self._read_timeout
                )
                _register_secrets(self._url, plugin.url(privacy=True))
                obj = apprise.Apprise(asset=plugin.asset)
                obj.add(plugin)
                self._plugin, self._apprise = plugin, obj
            return self._apprise, self._plugin

    def display(self) -> str:
        try:
            return _short(self._build()[1].url(privacy=True))
        except ConfigError:
            return f"{_scheme(self._url)}://(invalid)"

    def limit(self) -> int:
        plugin = self._build()[1]
        body = int(getattr(plugin, "body_maxlen", 0) or UNLIMITED)
        return body

    def title_separate(self) -> bool:
        """Whether the service sends the title apart from the body (Telegram: it does not)."""
        return bool(getattr(self._build()[1], "title_maxlen", 0))

    def send(self, title: str, body: str, notify_type: str = "info") -> None:
        import apprise

        obj, plugin = self._build()
        shown = _short(plugin.url(privacy=True))
        result = obj.notify(
            body=body,
            title=title,
            body_format=apprise.NotifyFormat.TEXT,
            notify_type=apprise.NotifyType(notify_type),
        )
        with result:
            if result:
                return
            lines = [logs.redact(e.message) for e in result.logs()]
        retry_after = next((r for r in map(retry_after_in, lines) if r is not None), None)
        reason = lines[-1] if lines else "not accepted"
        raise DeliveryError(f"{shown}: {reason}", retry_after=retry_after)


def _detach_apprise_log() -> None:
    """apprise's warnings are read from each AppriseResult and reported (masked, once per
    cycle) by riskwatch's own log lines; left to propagate, every retry would print them again.
    The logger keeps its level: apprise captures a call's lines only when they are enabled."""
    logger = logging.getLogger("apprise")
    if logger.propagate:
        logger.addHandler(logging.NullHandler())
        logger.propagate = False


def instantiate(url: str) -> Any:
    """apprise's plugin for ``url``, or None when apprise cannot use it. Sends nothing.

    The one place riskwatch asks apprise to parse a URL (``check`` validates with it too);
    apprise logs a URL it rejects in full, token included, so it is kept quiet meanwhile."""
    import apprise  # only here: building the first plugin loads every plugin

    # Sequential: apprise's own thread pool would be joined at interpreter exit, so a stalled
    # send there would keep the process alive long after SIGTERM (riskwatch bounds the send in
    # its own thread instead: delivery.deadline).
    asset = apprise.AppriseAsset(async_mode=False)
    try:
        with _apprise_silenced():
            return apprise.Apprise.instantiate(url, asset=asset)
    except Exception:  # the edge: apprise may raise on odd input; that means "not usable"
        return None


def unusable_reason(url: str) -> str | None:
    """None when apprise can build a notifier for ``url``, else why not. Sends nothing.

    ``check``, ``run`` and every reload pass this to the config loader, so a URL that would
    never get its alert is a config error everywhere, not only in ``check``."""
    if instantiate(url) is None:
        return "is not usable by apprise (unknown scheme or malformed)"
    return None


class _QuietWhileBuilding(logging.Filter):
    """Drops apprise's records from a thread that is building a plugin, and only those.

    Why per thread: disabling the logger would also drop the records of another worker's send
    at that moment, and apprise collects ``result.logs()`` through a handler on this logger, so
    that send would lose its reason and Telegram's "retry after N"."""

    def __init__(self) -> None:
        super().__init__()
        self.local = threading.local()

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(self.local, "quiet", False)


_QUIET = _QuietWhileBuilding()


@contextlib.contextmanager
def _apprise_silenced() -> Iterator[None]:
    logging.getLogger("apprise").addFilter(_QUIET)  # once: addFilter skips a filter it has
    was = getattr(_QUIET.local, "quiet", False)
    _QUIET.local.quiet = True
    try:
        yield
    finally:
        _QUIET.local.quiet = was


def _short(private_url: str) -> str:
    """The privacy-masked URL without apprise's default query options (method, overflow...)
    and with every path segment masked: apprise's privacy rendering keeps a generic plugin's
    path (``json://host/hooks/TOKEN``), and a token may sit there under any scheme."""
    return logs.mask_url_path(private_url.split("?", 1)[0])


def _scheme(url: str) -> str:
    return url.split("://", 1)[0] if "://" in url else "?"


def _register_secrets(url: str, private: str) -> None:
    """Mask every piece of ``url`` that apprise's privacy rendering hides (bot tokens, webhook
    tokens, passwords), so that no log line can show it."""
    shown = set(_SEPARATORS.split(private))
    for piece in _SEPARATORS.split(url):
        if piece and piece not in shown:
            logs.register_secret(piece)
    for piece in logs.url_pieces(url):  # path segments and query values, whatever apprise shows
        logs.register_secret(piece)
