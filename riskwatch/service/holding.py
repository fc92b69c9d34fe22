"""The daemon with no rules at all: started on an invalid file and no last-good copy.

It cannot watch positions without rules, so it does the next best things (DESIGN section 16):
stays up (a restart loop under ``Restart=on-failure`` would announce nothing), sends
``riskwatch-config`` to every channel it could read from the broken file, logs the error
once a minute, shows it in systemd's ``STATUS=``, and loads the file again as soon as it
changes (or on SIGHUP). When the file loads, it says so and hands the config back, and the
caller starts the real daemon on it. SIGTERM and SIGINT end it with exit 0.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable

from riskwatch import durations
from riskwatch.errors import ConfigError
from riskwatch.model import Config
from riskwatch.render.words import plural
from riskwatch.service.daemon import RELOAD_AGREE, _signature
from riskwatch.service.sdnotify import Notifier

log = logging.getLogger("riskwatch.daemon")

LOG_EVERY = 60.0  # the error is logged again once a minute
RESEND_EVERY = 1800.0  # and sent again every 30 minutes (defaults.repeat's default)
TITLE = "riskwatch-config: NOT watching"
Announce = Callable[[str, str], None]  # (title, body) to every readable channel


def first_problem(exc: ConfigError) -> str:
    """One line for alerts and STATUS=: the first problem, and how many more there are."""
    more = len(exc.problems) - 1
    return exc.problems[0] + (f" (and {more} more)" if more > 0 else "")


class Holding:
    def __init__(
        self,
        path: str,
        problem: str,
        *,
        load: Callable[[str], Config],
        announce: Announce | None,
        notifier: Notifier | None = None,
        stop: threading.Event | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        wait: Callable[[float], bool] | None = None,
        resend_every: float = RESEND_EVERY,
    ) -> None:
        self.path = path
        self.problem = problem
        self.load = load
        self.announce = announce
        self.sd = notifier or Notifier()
        self.stop = stop or threading.Event()
        self.monotonic = monotonic
        self.wait = wait or self.stop.wait
        self.resend_every = resend_every
        self.hup = threading.Event()
        self._sig = _signature(path)
        self._pending: tuple[tuple | None, float] | None = None
        self._logged = self._sent = -1e18

    def run(self) -> Config | None:
        """The holding loop with signal handlers installed: the config once the file loads,
        or None when stopped first."""
        handlers = {
            signal.SIGTERM: lambda *_: self.stop.set(),
            signal.SIGINT: lambda *_: self.stop.set(),
            signal.SIGHUP: lambda *_: self.hup.set(),
        }
        previous = {sig: signal.signal(sig, h) for sig, h in handlers.items()}
        try:
            return self.loop()
        finally:
            for sig, h in previous.items():
                signal.signal(sig, h)

    def status(self) -> str:
        return f"NOT watching: rules file invalid, no last good copy: {self.problem}"[:300]

    def loop(self) -> Config | None:
        self.sd.ready(self.status())
        self._say()
        while not self.stop.is_set():
            self.sd.watchdog()
            cfg = self._try_reload()
            if cfg is not None:
                return cfg
            now = self.monotonic()
            if now - self._logged >= LOG_EVERY:
                self._logged = now
                log.error("not watching: %s", self.problem)
            if self.announce is not None and now - self._sent >= self.resend_every:
                self._send(f"{TITLE}", self._body())
            nap = 1.0 if not self.sd.watchdog_interval else min(1.0, self.sd.watchdog_interval / 2)
            self.wait(nap)
        return None

    def _try_reload(self) -> Config | None:
        forced, sig = self.hup.is_set(), _signature(self.path)
        self.hup.clear()
        now = self.monotonic()
        if not forced:
            if sig == self._sig:
                self._pending = None
                return None
            if self._pending is None or self._pending[0] != sig:
                self._pending = (sig, now)  # changed (again): let the writer finish
                return None
            if now - self._pending[1] < RELOAD_AGREE:
                return None
        self._sig, self._pending = sig, None
        try:
            cfg = self.load(self.path)
        except ConfigError as exc:
            problem = first_problem(exc)
            if problem != self.problem:
                self.problem = problem
                self._logged = self._sent = -1e18  # a new error is said at once
                self._say()
            return None
        rules = plural(len(cfg.rules), "rule")
        log.info("rules file valid again: starting to watch with %s", rules)
        if self.announce is not None:
            self._send(
                "riskwatch-config resolved",
                f"resolved: riskwatch-config: {self.path} loads again; watching with {rules}",
            )
        return cfg

    def _say(self) -> None:
        self.sd.status(self.status())
        if self.announce is None:
            log.error(
                "no channel could be read from the rules file: this error is only in the "
                "log and in systemd's STATUS="
            )

    def _body(self) -> str:
        every = durations.to_text(self.resend_every)
        return (
            f"WARNING riskwatch-config: riskwatch is NOT watching your positions: the rules "
            f"file is invalid and no last good copy exists: {self.problem}. Fix the file: "
            f"riskwatch loads it by itself when it changes (this repeats every {every})."
        )

    def _send(self, title: str, body: str) -> None:
        self._sent = self.monotonic()
        announce = self.announce
        assert announce is not None
        # In the background: a slow channel must not stop the watchdog pings or the reload.
        threading.Thread(
            target=announce, args=(title, body), name="riskwatch-holding", daemon=True
        ).start()
