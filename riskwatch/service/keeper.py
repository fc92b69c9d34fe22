"""Loading the rules as the daemon must, and keeping each file that loads as the last good
copy (``config.lastgood``) in the state dir.

Two loaders are passed in (so this module imports neither apprise nor the command line):
``checked`` validates channel URLs with apprise and checks optional packages, as ``check``
does; ``quick`` skips the apprise check. At start the daemon loads ``quick``, so apprise
(about 0.2 s and 15-45 MiB, DESIGN 5) stays off the way to the first poll, and calls
``verify`` right after it: a URL apprise cannot use then makes the file invalid after all
(the caller falls back to the last good copy and raises ``riskwatch-config``). Reloads and the
fallback are checked in full. A file is kept as the last good copy only once it passed the
full check, the daemon holds the state dir's lock, and the daemon adopted it (a reload may
hold a valid result back while the file settles: ``adopted`` is called when it is applied).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from riskwatch.config import lastgood
from riskwatch.config.source import read_text
from riskwatch.errors import ConfigError
from riskwatch.model import Config
from riskwatch.service.holding import first_problem

log = logging.getLogger("riskwatch.daemon")
Loader = Callable[[str, Mapping[str, str], str], Config]  # (path, environ, text) -> Config


class Keeper:
    def __init__(
        self, path: str, environ: Mapping[str, str], *, checked: Loader, quick: Loader
    ) -> None:
        self.path = path
        self.environ = environ
        self._checked = checked
        self._quick = quick
        self._said: str | None = None
        self._held = False
        self._good: tuple[str, str] | None = None  # (state dir, text): checked, not yet kept
        self._unverified: str | None = None  # text loaded quick, awaiting ``verify``

    def load(self, path: str, *, quick: bool = False) -> Config:
        """The config in ``path``; ``ConfigError`` when invalid. ``quick``: see the module."""
        text = read_text(path)
        cfg = (self._quick if quick else self._checked)(path, self.environ, text)
        if quick:
            self._unverified = text
        else:
            self._unverified = None
            self._good = (cfg.state_dir, text)
        return cfg

    def adopted(self) -> None:
        """The daemon applied the last file loaded in full: keep it as the last good copy."""
        self._keep()

    def verify(self) -> str | None:
        """Check the quick-loaded file in full: None when good (and now kept), else its
        first problem."""
        text, self._unverified = self._unverified, None
        if text is None:
            return None
        try:
            cfg = self._checked(self.path, self.environ, text)
        except ConfigError as exc:
            for line in exc.problems:
                log.error("invalid rules file: %s", line)
            return first_problem(exc)
        self._good = (cfg.state_dir, text)
        self._keep()
        return None

    def locked(self) -> None:
        """The daemon holds the state dir now: it alone writes the copy."""
        self._held = True

    def fallback(self) -> Config | None:
        """The last good copy as a config for ``path`` (its relative paths resolve as the
        file's would), or None when there is none or it no longer loads."""
        state_dir = lastgood.locate_state_dir(self.path, self.environ)
        text = lastgood.read(state_dir)
        if text is None:
            log.error("no last good copy in %s", state_dir)
            return None
        try:
            return self._checked(self.path, self.environ, text)
        except ConfigError as exc:
            log.error("the last good copy does not load either: %s", first_problem(exc))
            return None

    def _keep(self) -> None:
        if not self._held or self._good is None:
            return
        state_dir, text = self._good
        self._good = None
        why = lastgood.save(state_dir, text, self.path)
        if why and why != self._said:
            log.warning("%s", why)
        self._said = why
