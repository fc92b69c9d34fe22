"""What became of a queued message, said twice: one INFO log line and one history record.

Why together: the journal and ``riskwatch history`` must tell the same story (which URL, how
many send attempts, how long after queueing), and neither may hold a token: the log names the
URL in its privacy-masked form, the history by its destination key (a hash) and channel.
"""

from __future__ import annotations

import logging

from riskwatch.render.words import plural, span
from riskwatch.store import history
from riskwatch.store.db import OutboxItem

log = logging.getLogger("riskwatch.notify")


def delivered(
    item: OutboxItem, shown: str, now: float, sends: int, parts: int, *, answered: bool = True
) -> history.Record:
    """``item`` was accepted whole after ``sends`` attempts in all (earlier cycles included);
    ``answered=False``: its last send got no answer again, so it probably arrived and is not
    sent a third time (the history says so rather than that it was accepted)."""
    waited = now - item.created_at
    split = f" in {parts} parts" if parts > 1 else ""
    how = "delivered" if answered else "probably delivered (no answer, twice)"
    log.info(
        "channel %s %s: %s %r%s after %s, %.1f s after it was queued",
        item.channel or "-",
        shown,
        how,
        item.title,
        split,
        plural(sends, "attempt"),
        waited,
    )
    said = "" if answered else "no answer, twice: probably arrived; "
    text = f"{said}after {plural(sends, 'attempt')}{split}, {span(waited)} after queueing"
    return _record(item, history.DELIVERED, text, now, sends)


def failed(item: OutboxItem, now: float, sends: int, error: str) -> history.Record | None:
    """A failed delivery cycle: recorded once, at the first (the log says every one, and the
    outbox keeps the latest error), so an outage of hours is one row, not hundreds."""
    if item.attempts > 0:
        return None
    return _record(item, history.FAILED, error, now, sends)


def dropped(item: OutboxItem, now: float, why: str) -> history.Record:
    """Never delivered: too old (send_ttl), or its URL left the config."""
    return _record(item, history.DROPPED, why, now, item.sends)


def _record(item: OutboxItem, kind: str, text: str, now: float, sends: int) -> history.Record:
    """The history row of what became of ``item``: by channel and URL hash, never the URL."""
    return history.Record(
        at=now,
        kind=kind,
        text=text,
        what=item.title,
        channel=item.channel,
        dest_key=item.dest_key,
        queued_at=item.created_at,
        attempts=sends,
        seconds=now - item.created_at,
    )
