"""Order per URL, and its limit: a message that keeps failing (a permanent error such as a 400
for its content) holds back newer ones for 3 delivery cycles, not for the whole send_ttl."""

from __future__ import annotations

from tests.test_delivery import config, deliverer, queue


def test_message_failing_three_cycles_lets_later_ones_past_in_order(store, rx):
    cfg = config(store.path, phone=[rx.url])
    rx.fail_if(lambda body: "TOO-LONG" in body, status=400)
    queue(store, cfg, "phone", "TOO-LONG firing")
    queue(store, cfg, "phone", "later")
    queue(store, cfg, "phone", "latest")
    d = deliverer(cfg, store)
    for _ in range(2):
        d.deliver_all_once()
        assert rx.bodies() == []  # strict order behind a head that failed fewer than 3 cycles
    d.deliver_all_once()  # the head's third failed cycle
    assert rx.bodies() == ["later", "latest"]
    (head,) = store.undelivered()
    assert (head.body, head.attempts) == ("TOO-LONG firing", 3)  # kept until its send_ttl
    queue(store, cfg, "phone", "newest")
    d.deliver_all_once()
    assert rx.bodies() == ["later", "latest", "newest"]
    assert [i.attempts for i in store.undelivered()] == [4]


def test_a_down_url_is_not_tried_message_by_message(store, rx):
    """Once every message has failed 3 cycles (a long outage), a pass still ends at its second
    failure instead of trying every queued message."""
    cfg = config(store.path, phone=[rx.url])
    rx.always(500)
    for body in ("one", "two", "three"):
        queue(store, cfg, "phone", body)
    d = deliverer(cfg, store)
    for _ in range(6):
        d.deliver_all_once()
    assert [i.attempts for i in store.undelivered()] == [6, 4, 0]
    rx.always(200)
    d.deliver_all_once()
    assert rx.bodies() == ["one", "two", "three"]
