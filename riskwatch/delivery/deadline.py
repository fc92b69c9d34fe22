"""A send's total deadline, shared by every sender (apprise, and any later one).

Why a deadline of its own: a sender's HTTP timeouts bound each gap between bytes, so a service
that records the message and answers a minute later, or trickles its answer, holds the URL's
worker for as long as it likes, and a read timeout inside the sender is retried as if the
message had not arrived (five copies in thirty seconds). Here a send runs in its own thread and
is waited for at most ``timeout`` seconds:
- no answer in time is ``Uncertain``: the request went out, the message may have arrived, so it
  is retried at most once per message (a slow service gets at most two copies), after backoff;
- at shutdown an in-flight send is abandoned after ``ABANDON_AFTER`` seconds (the outbox keeps
  the message), so SIGTERM ends the process within a few seconds whatever the service does.

A URL's deadline is ``RetryPolicy.send_timeout`` (30 s), or its own ``send_timeout=`` option
(``riskwatch.urlopts``), which riskwatch strips before the URL reaches a sender.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from riskwatch.errors import DeliveryError

log = logging.getLogger("riskwatch.notify")

SEND_TIMEOUT = 30.0
ABANDON_AFTER = 2.5  # seconds an in-flight send may still take once shutdown began
_TICK = 0.05


class Uncertain(DeliveryError):
    """The request was sent but no answer came within the deadline: it may have arrived."""


def bounded(
    send: Callable[[], None],
    *,
    timeout: float,
    stop: threading.Event,
    label: str,
    monotonic: Callable[[], float] = time.monotonic,
) -> None:
    """``send()`` within ``timeout`` seconds; raises what it raises, ``Uncertain``
    when it did not answer in time, or ``DeliveryError`` when shutdown abandoned it."""
    done = threading.Event()
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            send()
        except BaseException as exc:  # handed to the waiting thread, which raises it
            outcome.append(exc)
        finally:
            done.set()

    threading.Thread(target=run, name=f"riskwatch-send-{label}", daemon=True).start()
    end = monotonic() + timeout
    abandon_at: float | None = None
    while not done.wait(_TICK):
        now = monotonic()
        if stop.is_set():
            abandon_at = abandon_at or now + ABANDON_AFTER
            if now >= abandon_at:
                raise DeliveryError(f"{label}: abandoned at shutdown; the outbox keeps it")
        if now >= end:
            log.warning(
                "%s: no answer within %g s; the message may have arrived (it is sent again at"
                " most once); other URLs are not held up",
                label,
                timeout,
            )
            raise Uncertain(f"{label}: no answer within {timeout:g} s (may have arrived)")
    if outcome:
        raise outcome[0]
