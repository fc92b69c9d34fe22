"""Delivery when the store fails after a send was accepted, and at shutdown: a message the
service accepted is not sent again while the process lives (at-least-once only across a crash
or a restart)."""

from __future__ import annotations

import logging
import sqlite3

from riskwatch.store.db import FILENAME
from tests.test_delivery import config, deliverer, queue, until


def _break_removal(state_dir: str) -> sqlite3.Connection:
    """A real SQLite failure on every DELETE from the outbox (as a full disk would give)."""
    conn = sqlite3.connect(f"{state_dir}/{FILENAME}", isolation_level=None)
    conn.execute(
        "CREATE TRIGGER no_delete BEFORE DELETE ON outbox"
        " BEGIN SELECT RAISE(ABORT, 'disk I/O error (test)'); END"
    )
    return conn


def test_accepted_message_is_not_resent_when_its_removal_fails(tmp_path, store, rx, caplog):
    cfg = config(str(tmp_path), phone=[rx.url])
    queue(store, cfg, "phone", "first")
    queue(store, cfg, "phone", "second")
    breaker = _break_removal(str(tmp_path / "state"))
    d = deliverer(cfg, store)

    with caplog.at_level(logging.ERROR, logger="riskwatch"):
        report = d.deliver_all_once()
    assert rx.bodies() == ["first"]
    assert report.sent == 0 and not any(u.failed for u in report.urls)
    assert "accepted" in caplog.text
    first = store.undelivered()[0]
    assert (first.body, first.attempts, first.next_attempt_at) == ("first", 0, 0)  # no backoff

    d.deliver_all_once()  # the bookkeeping still fails: nothing is sent again
    assert rx.bodies() == ["first"]

    breaker.execute("DROP TRIGGER no_delete")
    breaker.close()
    assert d.deliver_all_once().ok
    assert rx.bodies() == ["first", "second"]
    assert store.undelivered() == []


def test_accepted_part_is_not_resent_when_recording_it_fails(tmp_path, store, rx):
    cfg = config(str(tmp_path), phone=[rx.url])
    body = "\n".join(f"line {i:04d} " + "x" * 60 for i in range(1200))  # split in 3 parts or more
    queue(store, cfg, "phone", body)
    breaker = sqlite3.connect(f"{tmp_path}/state/{FILENAME}", isolation_level=None)
    breaker.execute(
        "CREATE TRIGGER no_update BEFORE UPDATE OF parts_sent ON outbox"
        " BEGIN SELECT RAISE(ABORT, 'disk I/O error (test)'); END"
    )
    d = deliverer(cfg, store)
    d.deliver_all_once()
    d.deliver_all_once()
    assert len(rx.bodies()) == 1  # the first part, once
    breaker.execute("DROP TRIGGER no_update")
    breaker.close()
    assert d.deliver_all_once().ok
    parts = rx.bodies()
    assert len(parts) > 2 and "\n".join(parts) == body


def test_close_waits_for_a_send_in_flight_to_be_recorded(tmp_path, store, rx):
    """Closing the store under a send in flight would leave it queued, sent again after the
    restart; close() waits (bounded) for it."""
    cfg = config(str(tmp_path), phone=[rx.url])
    rx.hang(1, seconds=1.0)  # answers 200 after a second
    queue(store, cfg, "phone", "in flight")
    d = deliverer(cfg, store)
    d.kick()
    assert until(lambda: rx.requests == 1)
    d.close()
    assert store.undelivered() == []
