"""Delivering one URL's queued messages: retries within a cycle, backoff across cycles, TTL,
splitting. Pure policy plus the outbox bookkeeping; the threads live in
``riskwatch.delivery.workers``.

Why the outbox decides and not the sender: a message leaves the outbox only once every part of it
was accepted, so a crash or a failure never loses it; parts already accepted are recorded, so a
retry resends only the rest (a retry never duplicates a part, a crash between a part's acceptance
and its record may: delivery is at-least-once).
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass

from riskwatch import logs
from riskwatch.delivery import outcomes
from riskwatch.delivery.apprise_sender import Sender
from riskwatch.delivery.deadline import SEND_TIMEOUT, Uncertain
from riskwatch.delivery.sending import Clock, RetryPolicy, Sleep, send_with_retries
from riskwatch.delivery.telegram import with_buttons
from riskwatch.errors import ConfigError, DeliveryError, StoreError
from riskwatch.render.words import late_prefix, plural
from riskwatch.store import history
from riskwatch.store.db import OutboxItem, Store

log = logging.getLogger("riskwatch.notify")

RECORD_RETRY = 1.0  # seconds before a worker retries recording an accepted send
STUCK_AFTER = 3  # failed cycles after which a message no longer holds back newer ones
# Characters kept free in every part for "(delayed 12d3h4m) ", decided only at send time, so
# that a message splits the same way on every try (parts_sent counts the same parts).
LATE_ROOM = 24


def parts_of(item: OutboxItem, sender: Sender) -> list[tuple[str, str]]:
    """(title, body) per send: the body split at line boundaries to fit the service's limit,
    with "(2/3)" after the title when split."""
    # 5 % slack: services count their own newlines and markup (Telegram sends "\r\n" and wraps
    # the title in <b></b> within its 4096)
    room = int(sender.limit() * 0.95)
    if not sender.title_separate():
        room -= len(item.title) + 32  # the title travels in the body; leave room for "(12/13)"
    room = max(room, 200) - LATE_ROOM
    if len(item.body) <= room:
        return [(item.title, item.body)]
    from riskwatch.render import lines as render

    bodies = render.split(item.body, room, numbered=False)  # numbered in the title instead
    n = len(bodies)
    return [
        (f"{item.title} ({i}/{n})" if n > 1 else item.title, b) for i, b in enumerate(bodies, 1)
    ]


@dataclass
class PassResult:
    sent: int = 0
    failed: int = 0
    dropped: int = 0
    pending: int = 0
    error: str | None = None
    next_due: float | None = None


@dataclass
class Destination:
    """One URL: its hash, the channels that list it, its cached sender."""

    key: str
    url: str
    channels: tuple[str, ...]
    sender: Sender
    send_timeout: float = SEND_TIMEOUT

    @property
    def label(self) -> str:
        return "/".join(self.channels)


# Accepted sends whose record failed (item id -> (parts accepted, None: all, remove it; the
# send attempts they took; the history outcome)), kept in memory and written before anything
# else is sent to that URL.
Unrecorded = dict[int, tuple[int | None, int, history.Record | None]]


def deliver_pending(
    dest: Destination,
    store: Store,
    *,
    ttl: float,
    force: bool,
    policy: RetryPolicy,
    clock: Clock,
    sleep: Sleep,
    stop: threading.Event,
    rand: Callable[[], float] = random.random,
    unrecorded: Unrecorded | None = None,
    late_after: float = 0.0,
) -> PassResult:
    """Try ``dest``'s due messages in order (all of them when ``force``), so that messages reach
    a URL in the order they were queued: a failure ends the pass, unless the failed message has
    now failed ``STUCK_AFTER`` cycles (a permanent error, such as a 400 for its content, must not
    hold back newer alerts until its send_ttl). Newer messages then go past it, but a pass still
    ends at its second failure: when the URL is down, trying every queued message each pass
    would only make the pass long.

    A store failure after the service accepted a send is no failed send: the acceptance is
    kept in ``unrecorded`` (the caller's, across passes) and recorded before anything else is
    sent, so the message is not sent again (unless the process ends first: at-least-once)."""
    result = PassResult()
    unrecorded = {} if unrecorded is None else unrecorded
    try:
        _record(store, unrecorded)
    except StoreError as exc:
        return _unrecorded_result(result, dest, exc, clock)
    items = store.undelivered(dest.key)
    wake: list[float] = []
    for item in items:
        now = clock()
        if now - item.created_at > ttl:
            _drop_expired(store, item, now, ttl)
            result.dropped += 1
            continue
        if stop.is_set():
            break
        if not is_due(item, now, force=force):
            wake.append(item.next_attempt_at)
            if holds_back(item.attempts):
                break
            continue
        tried = [0]
        try:
            _deliver_item(
                dest,
                store,
                item,
                unrecorded,
                policy=policy,
                clock=clock,
                sleep=sleep,
                stop=stop,
                late_after=late_after,
                tried=tried,
            )
        except StoreError as exc:  # accepted, but not recorded: not a failed send
            result.pending = len(items) - result.sent - result.dropped
            return _unrecorded_result(result, dest, exc, clock)
        except (DeliveryError, ConfigError) as exc:
            result.error = logs.redact(str(exc))
            failure = (exc, result.error, tried[0])
            uncertain = item.uncertain + isinstance(exc, Uncertain)
            wake.append(_mark_failed(store, item, failure, policy, clock, rand, uncertain))
            result.failed += 1
            if holds_back(item.attempts + 1) or result.failed > 1:
                break
            continue
        result.sent += 1
    result.pending = len(items) - result.sent - result.dropped
    result.next_due = min(wake, default=None)
    return result


def is_due(item: OutboxItem, now: float, *, force: bool) -> bool:
    """Whether ``item`` is to be tried now: its backoff is over, or the run is one-shot."""
    return force or item.next_attempt_at <= now


def holds_back(attempts: int) -> bool:
    """Whether a message that failed ``attempts`` cycles still holds back newer ones: the one
    STUCK rule (a permanent error must not hold back newer alerts until its send_ttl)."""
    return attempts < STUCK_AFTER


def _mark_failed(
    store: Store,
    item: OutboxItem,
    failure: tuple[DeliveryError | ConfigError, str, int],
    policy: RetryPolicy,
    clock: Clock,
    rand: Callable[[], float],
    uncertain: int = 0,
) -> float:
    """Record a failed cycle (the error, its redacted text, the sends it made) and its
    backoff; return when the message is next due."""
    exc, error, sends = failure
    attempts = item.attempts + 1
    delay = policy.backoff(attempts, exc.retry_after, rand)
    now = clock()
    due = now + delay
    store.mark_failed(
        item.id,
        attempts=attempts,
        next_attempt_at=due,
        error=error,
        sends=sends,
        outcome=outcomes.failed(item, now, item.sends + sends, error),
        uncertain=uncertain,
    )
    log.warning(
        "channel %s: message not delivered (%s so far), next try in %.0f s%s: %s",
        item.channel,
        plural(attempts, "cycle"),
        delay,
        "; newer messages to this URL now go past it" if attempts == STUCK_AFTER else "",
        error,
    )
    return due


def _deliver_item(
    dest: Destination,
    store: Store,
    item: OutboxItem,
    unrecorded: Unrecorded,
    *,
    policy: RetryPolicy,
    clock: Clock,
    sleep: Sleep,
    stop: threading.Event,
    late_after: float = 0.0,
    tried: list[int],
) -> None:
    """Send the parts not yet accepted, recording each acceptance; a message that waited more
    than ``late_after`` starts each part with "(delayed 4m12s)". ``DeliveryError`` or
    ``ConfigError``: a send failed. ``StoreError``: a send was accepted but not recorded.
    ``tried`` counts this pass's send attempts, failed ones included."""
    parts = parts_of(item, dest.sender)
    late = late_prefix(item.created_at, clock(), late_after) if dest.sender.marks_late else ""
    sends = item.sends
    for i in range(item.parts_sent, len(parts)):
        title, body = parts[i]
        before = tried[0]
        answered = True
        try:
            send_with_retries(
                with_buttons(dest.sender, item.keys, last=i + 1 == len(parts)),
                title,
                late + body,
                policy=policy,
                clock=clock,
                sleep=sleep,
                stop=stop,
                notify_type=item.notify_type,
                tried=tried,
                timeout=dest.send_timeout,
                label=f"channel {item.channel} {dest.sender.display()}",
            )
        except Uncertain:
            if not item.uncertain:
                raise  # retried once, after backoff
            answered = False
            log.warning(
                "channel %s: no answer again for message %d; it probably arrived (twice at"
                " most), so it is not sent again",
                item.channel,
                item.id,
            )
        sends += tried[0] - before
        last = i + 1 == len(parts)
        outcome = (
            outcomes.delivered(
                item, dest.sender.display(), clock(), sends, len(parts), answered=answered
            )
            if last
            else None
        )
        unrecorded[item.id] = (None if last else i + 1, tried[0] - before, outcome)
        _record(store, unrecorded)


def _record(store: Store, unrecorded: Unrecorded) -> None:
    """Write the accepted sends not yet recorded (parts sent, or the message's removal)."""
    for item_id, (parts, sends, outcome) in list(unrecorded.items()):
        if parts is None:
            store.remove(item_id, outcome)
        else:
            store.mark_parts_sent(item_id, parts, sends)
        del unrecorded[item_id]


def _unrecorded_result(
    result: PassResult, dest: Destination, exc: StoreError, clock: Clock
) -> PassResult:
    """Stop the pass: nothing more goes to this URL until its acceptances are recorded (so a
    message is never sent twice); no backoff, the record is retried soon."""
    log.error(
        "channel %s: a message was accepted but recording that failed (%s); it stays queued,"
        " nothing more is sent to this URL until it is recorded (retried in %.0f s)",
        dest.label,
        exc,
        RECORD_RETRY,
    )
    result.error = str(exc)
    result.next_due = clock() + RECORD_RETRY
    return result


def _drop_expired(store: Store, item: OutboxItem, now: float, ttl: float) -> None:
    store.remove(item.id, outcomes.dropped(item, now, "older than send_ttl"))
    log.warning(
        "channel %s: dropped an undelivered message queued %.0f s ago (older than send_ttl"
        " %.0f s, %s, last error: %s): %s",
        item.channel,
        now - item.created_at,
        ttl,
        plural(item.sends, "attempt"),
        item.last_error or "none",
        item.title,
    )


def drop_orphans(store: Store, known: set[str], why: str, now: float | None = None) -> int:
    """Drop queued messages whose URL is no longer configured, one log line per channel."""
    dropped: dict[str, int] = {}
    for item in store.undelivered():
        if item.dest_key not in known:
            store.remove(item.id, outcomes.dropped(item, now or item.created_at, f"its URL {why}"))
            dropped[item.channel] = dropped.get(item.channel, 0) + 1
    for channel, count in sorted(dropped.items()):
        log.warning(
            "channel %s: dropped %s: their URL %s",
            channel or "(none)",
            plural(count, "queued message"),
            why,
        )
    return sum(dropped.values())


CLOCK_STEP = 5.0  # seconds a stored time may lie ahead of the clock before it is a step back


def reschedule_ahead(store: Store, now: float) -> int:
    """Make due now the queued messages a previous process queued while the host clock was
    ahead (set back since): their next try, hours ahead, would hold them (and every message
    behind them) for as long as the clock was wrong. One warning."""
    ahead = [i for i in store.undelivered() if i.created_at > now + CLOCK_STEP]
    for item in ahead:
        if item.next_attempt_at > now:
            store.mark_failed(
                item.id,
                attempts=item.attempts,
                next_attempt_at=now,
                error=item.last_error or "",
            )
    if ahead:
        log.warning(
            "%s queued up to %.0f s ahead of this host's clock (it was set back since): due now",
            plural(len(ahead), "message was", "messages were"),
            max(i.created_at for i in ahead) - now,
        )
    return len(ahead)
