"""One message to one URL, now: the shared send policy every sender gets (apprise today,
Telegram and Alertmanager senders later): retries within a cycle per ``RetryPolicy``, each
attempt under the total deadline of ``deadline.bounded``, an uncertain send never retried at
once. Kept apart from ``retry`` (the outbox bookkeeping across cycles), which re-exports it.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass

from tenacity import RetryCallState, Retrying, retry_if_exception

from riskwatch.delivery.apprise_sender import Sender
from riskwatch.delivery.deadline import SEND_TIMEOUT, Uncertain, bounded
from riskwatch.errors import DeliveryError, RiskwatchError

Clock = Callable[[], float]
Sleep = Callable[[float], object]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Within a cycle: up to ``attempts`` sends within ``budget`` seconds, exponential waits
    from ``initial`` (jittered, at most ``max_wait``) or the service's retry-after. Across
    cycles: ``cross_initial`` doubling per failed cycle, capped at ``cap``; a retry-after that
    does not fit the budget sets the next attempt time instead (and overrides the cap). Each
    send has ``send_timeout`` seconds in total (``deadline``); one that ran out is uncertain and
    is not retried within the cycle."""

    attempts: int = 4
    budget: float = 10.0
    initial: float = 0.5
    max_wait: float = 4.0
    jitter: float = 0.5
    cross_initial: float = 5.0
    cap: float = 60.0
    send_timeout: float = SEND_TIMEOUT

    def wait(self, attempt: int, retry_after: float | None, rand: Callable[[], float]) -> float:
        if retry_after is not None:
            return retry_after
        return min(self.max_wait, self.initial * 2 ** (attempt - 1)) + self.jitter * rand()

    def backoff(self, failures: int, retry_after: float | None, rand: Callable[[], float]) -> float:
        """Delay before the next cycle's attempt after ``failures`` failed cycles in a row:
        jittered, then capped (the cap is the most a URL waits), unless the service's
        retry-after asks for longer."""
        delay = self.cross_initial * 2 ** min(max(0, failures - 1), 30)
        delay = min(self.cap, delay * (0.75 + 0.5 * rand()))
        return max(delay, retry_after or 0.0)


def send_with_retries(
    sender: Sender,
    title: str,
    body: str,
    *,
    policy: RetryPolicy,
    clock: Clock,
    sleep: Sleep,
    stop: threading.Event,
    rand: Callable[[], float] = random.random,
    notify_type: str = "info",
    tried: list[int] | None = None,
    timeout: float | None = None,
    label: str = "send",
) -> int:
    """Send once, retrying a ``DeliveryError`` per ``policy``; return the attempts made.
    Raises the last ``DeliveryError`` when the cycle's attempts or budget run out, at once
    ``Uncertain`` when a send got no answer within ``timeout`` (default the policy's, see
    ``deadline``); ``tried`` (when given) counts every attempt, failed ones included, for
    ``status`` and the history."""
    start = clock()
    count = tried if tried is not None else [0]
    limit = policy.send_timeout if timeout is None else timeout

    def attempt() -> None:
        count[0] += 1
        bounded(
            lambda: sender.send(title, body, notify_type), timeout=limit, stop=stop, label=label
        )

    def wait(rs: RetryCallState) -> float:
        exc = rs.outcome.exception() if rs.outcome else None
        return policy.wait(
            rs.attempt_number, exc.retry_after if isinstance(exc, RiskwatchError) else None, rand
        )

    def give_up(rs: RetryCallState) -> bool:
        spent = clock() - start
        return (
            rs.attempt_number >= policy.attempts
            or stop.is_set()
            or spent + rs.upcoming_sleep > policy.budget
        )

    retrying = Retrying(
        stop=give_up,
        wait=wait,
        retry=retry_if_exception(
            lambda e: isinstance(e, DeliveryError) and not isinstance(e, Uncertain)
        ),
        sleep=_returning_none(sleep),
        reraise=True,
    )
    retrying(attempt)
    return retrying.statistics.get("attempt_number", 1)


def _returning_none(sleep: Sleep) -> Callable[[float], None]:
    """tenacity's ``sleep`` returns nothing; ours may be ``Event.wait`` (a bool)."""

    def run(seconds: float) -> None:
        sleep(seconds)

    return run
