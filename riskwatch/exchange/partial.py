"""What one poll has read so far, endpoint by endpoint, and the row warnings it has said.

Kept apart from ``bitget`` (the adapters): a poll's partial result decides what may close
(DESIGN section 8, closed versus missing), and the warnings of bad rows are said once per
distinct row while it lasts, not once per poll.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from riskwatch.errors import AuthError, ExchangeError, Unreachable
from riskwatch.exchange.normalise.rowcheck import ALL
from riskwatch.model import Account, Position

log = logging.getLogger("riskwatch.exchange")


@dataclass
class Partial:
    positions: list[Position] = field(default_factory=list)
    accounts: list[Account] = field(default_factory=list)
    read: set[str] = field(default_factory=set)  # product types whose positions were read
    warnings: list[str] = field(default_factory=list)
    errors: list[ExchangeError] = field(default_factory=list)
    whole: set[str] = field(default_factory=set)  # ... read with no unreadable row
    accounts_read: set[str] = field(default_factory=set)
    request_times: list[float] = field(default_factory=list)  # positions replies, seconds
    unreadable: set[tuple[str, str]] = field(default_factory=set)  # (product type, symbol)

    def attempt(self, what: Callable[[], None]) -> None:
        """Run one endpoint's fetch; a refusal propagates, any other failure is remembered."""
        try:
            what()
        except AuthError:
            raise
        except ExchangeError as exc:  # an outage was logged by the transport, once
            log.log(logging.DEBUG if isinstance(exc, Unreachable) else logging.WARNING, "%s", exc)
            self.errors.append(exc)


class RowLog:
    """Logs each row warning once while it lasts; returns what the rows hold back from closing
    (a symbol each, ``ALL`` for a row whose symbol cannot be read)."""

    def __init__(self) -> None:
        self._said: dict[tuple[str, str], set[str]] = {}

    def __call__(self, where: tuple[str, str], warnings: list[str]) -> set[str]:
        before = self._said.get(where, set())
        for w in warnings:
            if w not in before:
                log.warning("%s", w)
        self._said[where] = set(warnings)
        return {h for w in warnings if (h := getattr(w, "hold", ALL)) is not None}
