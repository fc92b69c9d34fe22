"""Every error riskwatch raises, named by what the caller should do about it.

Library errors (requests, apprise, yaml, sqlite3) are translated into these once, at the edge
where they arise (``raise ConfigError(...) from exc``); nothing above that edge catches a
library's own exceptions. The tree::

    RiskwatchError                 root: catch this to catch everything riskwatch raises
    ├── ConfigError                the rules file (or a command's input) is wrong: fix it
    │                              (carries every problem found, each located FILE:LINE:COL)
    ├── CredentialsError           a key, secret or passphrase is missing: supply it
    ├── ExchangeError              the exchange answered something we cannot use (not retried)
    │   ├── AuthError              the exchange refuses the credentials: stop, tell a human
    │   ├── TransientError         a passing fault (5xx, reset, timeout, garbage): retry
    │   │   └── RateLimited        HTTP 429 or a rate-limit code: retry after ``retry_after``
    │   └── Unreachable            retries are exhausted and no host answered: try next cycle
    ├── DeliveryError              a notification was not accepted: keep it queued, retry later
    ├── StoreError                 the state dir cannot be read or written: fix the disk/perms
    └── AlreadyRunning             another daemon holds the state dir: stop it or use another

Exit codes by error (the table is ``cli.main.EXIT_CODES``): ConfigError, CredentialsError,
StoreError, AlreadyRunning 1; AuthError 3; Unreachable/TransientError 4.
"""

from __future__ import annotations

from collections.abc import Sequence


class RiskwatchError(Exception):
    """Root of every error riskwatch raises on purpose.

    ``retry_after`` (seconds) is the other side's hint of when to try again, where it sent one
    (a 429's Retry-After, Telegram's "retry after N"); ``None`` everywhere else. It sits on the
    root so a retry policy reads one attribute of any error instead of probing subclasses.
    """

    retry_after: float | None = None


class ConfigError(RiskwatchError):
    """The rules file is invalid; ``problems`` lists every located one-line message."""

    def __init__(self, problems: str | Sequence[str]) -> None:
        self.problems: tuple[str, ...] = (
            (problems,) if isinstance(problems, str) else tuple(problems)
        )
        super().__init__(self.problems[0] if len(self.problems) == 1 else "\n".join(problems))


class CredentialsError(RiskwatchError):
    """A credential is missing or unreadable; the message names which, never its value."""


class ExchangeError(RiskwatchError):
    """The exchange said no, or said something we cannot use. ``code`` is Bitget's code."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        endpoint: str = "",
        retry_after: float | None = None,
    ) -> None:
        self.code = code
        self.endpoint = endpoint
        self.retry_after = retry_after
        super().__init__(message)


class AuthError(ExchangeError):
    """The exchange refuses the key; ``explanation`` tells a person what to change."""

    def __init__(
        self, message: str, *, code: str | None = None, endpoint: str = "", explanation: str = ""
    ) -> None:
        super().__init__(message, code=code, endpoint=endpoint)
        self.explanation = explanation or message


class TransientError(ExchangeError):
    """A fault that may pass: retry with backoff."""


class RateLimited(TransientError):
    """Too many requests; ``retry_after`` is the server's hint, when it sent one."""


class Unreachable(ExchangeError):
    """Every retry and host failed for this cycle; the last cause is chained.

    ``retry_after`` is set when the last failure was a rate limit whose hint was longer than the
    fetch budget allowed: the caller should wait that long before the next try rather than earn
    more 429s.
    """


class DeliveryError(RiskwatchError):
    """A channel did not accept a message; ``retry_after`` is the service's hint, if any."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class StoreError(RiskwatchError):
    """The state dir or its database cannot be used."""


class AlreadyRunning(RiskwatchError):
    """Another riskwatch daemon holds the state dir: two would send every alert twice."""
