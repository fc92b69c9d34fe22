"""The one deadline thread of ``exchange.bounded``: every request's deadline, in order, and
never after the request finished (a finished request's connection is back in the pool)."""

from __future__ import annotations

import threading

from riskwatch.exchange import bounded


def _expires(watch: bounded.Watch, within: float = 10.0) -> bool:
    pause = threading.Event()
    for _ in range(int(within / 0.01)):
        if watch.expired:
            return True
        pause.wait(0.01)
    return watch.expired


def test_a_shorter_deadline_after_a_longer_one_is_not_kept_waiting_and_a_finished_one_never_fires():
    slow = bounded.Watch(3600.0).__enter__()
    threading.Event().wait(0.1)  # the deadline thread settles into waiting an hour for it
    with bounded.Watch(0.01) as finished:
        pass
    try:
        with bounded.Watch(0.05) as late:
            assert _expires(late), "the deadline thread must wake for a sooner deadline"
    finally:
        slow.__exit__()
    assert not finished.expired and not slow.expired
