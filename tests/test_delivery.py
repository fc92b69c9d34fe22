"""Delivery through real apprise to real local receivers: retries, isolation, durability."""

from __future__ import annotations

import logging
import threading

from riskwatch.delivery.fake import Receiver
from riskwatch.delivery.workers import Deliverer, RetryPolicy, destination_key, routes
from riskwatch.errors import DeliveryError
from riskwatch.model import Channel, Config, Message
from riskwatch.store.db import FILENAME, Store

FAST = RetryPolicy(initial=0.01, max_wait=0.05, jitter=0.0)
TOKEN = "s3cretTOKENvalue42"


def config(state_dir: str, send_ttl: float = 6 * 3600.0, **channels: list[str]) -> Config:
    chans = tuple(Channel(name, tuple(urls)) for name, urls in channels.items())
    return Config(path="rules.yaml", state_dir=state_dir, send_ttl=send_ttl, channels=chans)


def queue(store: Store, cfg: Config, channel: str, body: str, at: float | None = None) -> None:
    """What a cycle does: one message per URL of ``channel``, in one transaction."""
    import time

    msg = Message(channel, f"riskwatch: {body}", body, time.time() if at is None else at)
    store.commit_cycle({}, [(k, msg) for k in routes(cfg)[channel]])


def until(cond, timeout: float = 10.0) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def deliverer(cfg: Config, store: Store, **kw) -> Deliverer:
    kw.setdefault("policy", FAST)
    return Deliverer(cfg, store, **kw)


def test_two_429s_then_success_delivers_once(store, rx):
    cfg = config(store.path, phone=[rx.url])
    rx.fail(2, status=429)
    queue(store, cfg, "phone", "BTCUSDT long near liquidation")
    report = deliverer(cfg, store).deliver_all_once()
    assert rx.bodies() == ["BTCUSDT long near liquidation"]
    assert rx.requests == 3
    assert (report.sent, report.pending, report.ok) == (1, 0, True)
    assert store.undelivered() == []
    assert deliverer(cfg, store).deliver_all_once().sent == 0
    assert rx.requests == 3


def test_500_then_success_through_the_worker(store, rx):
    cfg = config(store.path, phone=[rx.url])
    rx.fail(1, status=500)
    d = deliverer(cfg, store)
    try:
        queue(store, cfg, "phone", "one")
        d.kick()
        assert rx.wait_for(1, timeout=10)
        assert until(lambda: store.undelivered() == [])
    finally:
        d.close()
    assert rx.bodies() == ["one"] and rx.requests == 2
    assert store.undelivered() == []


def test_budget_exhausted_keeps_the_message_with_backoff(store, rx):
    cfg = config(store.path, phone=[rx.url])
    rx.always(503)
    queue(store, cfg, "phone", "kept")
    report = deliverer(cfg, store, clock=lambda: 1000.0).deliver_all_once()
    (item,) = store.undelivered()
    assert rx.requests == FAST.attempts  # at least 3 attempts per cycle
    assert item.attempts == 1 and "error=503" in (item.last_error or "")
    assert 1000.0 < item.next_attempt_at <= 1000.0 + FAST.cap
    assert (report.sent, report.pending, report.ok) == (0, 1, False)
    assert report.urls[0].channel == "phone" and "error=503" in (report.urls[0].error or "")


def test_hanging_url_does_not_delay_another(store):
    with Receiver() as slow, Receiver() as fast:
        slow.hang(10, seconds=5)
        cfg = config(store.path, a=[slow.url_for(rto="1")], b=[fast.url])
        d = deliverer(cfg, store)
        try:
            queue(store, cfg, "a", "to slow")
            queue(store, cfg, "b", "to fast")
            d.kick()
            assert fast.wait_for(1, timeout=10)
            # the fast URL's message is done while the slow URL is still busy with its own
            assert until(lambda: [i.body for i in store.undelivered()] == ["to slow"])
            assert slow.requests >= 1 and store.undelivered()[0].attempts == 0
        finally:
            slow.release()
            d.close()
        assert slow.bodies() == [] and fast.bodies() == ["to fast"]


def test_hang_is_bounded(store, rx):
    rx.hang(10, seconds=20)
    cfg = config(store.path, phone=[rx.url_for(send_timeout="1s")])
    queue(store, cfg, "phone", "x")
    report = deliverer(cfg, store).deliver_all_once(timeout=15)
    rx.release()
    assert report.urls[0].failed == 1 and "no answer within 1 s" in str(report.urls[0].error)
    (item,) = store.undelivered()
    assert item.uncertain == 1  # it may have arrived: sent again once at most


def test_down_channel_keeps_message_until_it_returns(tmp_path, rx):
    state = str(tmp_path / "state")
    store = Store.open(state)
    cfg = config(state, phone=[rx.url])
    rx.down()
    queue(store, cfg, "phone", "raised while down")
    deliverer(cfg, store).deliver_all_once()
    store.close()
    # a restart: the message is on disk with its failure
    store = Store.open(state)
    (item,) = store.undelivered()
    assert item.attempts == 1 and item.last_error
    rx.up()
    d = deliverer(cfg, store)
    assert d.deliver_all_once().sent == 1
    assert d.deliver_all_once().sent == 0
    assert rx.bodies() == ["raised while down"]
    store.close()


def test_failing_url_never_duplicates_a_healthy_one(store):
    with Receiver() as bad, Receiver() as good:
        bad.always(500)
        cfg = config(store.path, phone=[bad.url, good.url])
        queue(store, cfg, "phone", "first")
        d = deliverer(cfg, store)
        for _ in range(3):
            d.deliver_all_once()
        queue(store, cfg, "phone", "second")
        for _ in range(2):
            d.deliver_all_once()
        assert good.bodies() == ["first", "second"]
        assert [i.body for i in store.undelivered()] == ["first", "second"]
        assert {i.dest_key for i in store.undelivered()} == {destination_key(bad.url)}


def test_order_is_kept_behind_a_failure(store, rx):
    cfg = config(store.path, phone=[rx.url])
    rx.always(500)
    queue(store, cfg, "phone", "firing")
    queue(store, cfg, "phone", "resolved")
    deliverer(cfg, store).deliver_all_once()
    rx.always(200)
    deliverer(cfg, store).deliver_all_once()
    assert rx.bodies() == ["firing", "resolved"]


def test_not_due_messages_wait_but_once_runs_try_them(store, rx):
    cfg = config(store.path, phone=[rx.url])
    rx.always(500)
    queue(store, cfg, "phone", "m")
    d = deliverer(cfg, store)
    d.deliver_all_once()
    rx.always(200)
    # a daemon pass respects next_attempt_at ...
    from riskwatch.delivery.retry import deliver_pending

    res = deliver_pending(
        d.dests[destination_key(rx.url)],
        store,
        ttl=3600,
        force=False,
        policy=FAST,
        clock=lambda: 0.0 + store.undelivered()[0].created_at,
        sleep=lambda s: None,
        stop=threading.Event(),
    )
    assert res.sent == 0 and res.pending == 1 and rx.bodies() == []
    # ... a one-shot run does not
    assert d.deliver_all_once().sent == 1


def test_ttl_drop_is_logged(store, rx, caplog):
    cfg = config(store.path, send_ttl=60.0, phone=[rx.url])
    queue(store, cfg, "phone", "stale news", at=1000.0)
    with caplog.at_level(logging.WARNING, logger="riskwatch"):
        report = deliverer(cfg, store, clock=lambda: 1061.0).deliver_all_once()
    assert rx.requests == 0 and store.undelivered() == []
    assert report.dropped == 1
    assert "channel phone: dropped an undelivered message" in caplog.text
    assert "send_ttl" in caplog.text


def test_reload_dropping_a_url_logs_the_channel(store, caplog):
    with Receiver() as a, Receiver() as b:
        a.always(500)
        cfg = config(store.path, phone=[a.url, b.url])
        d = deliverer(cfg, store)
        queue(store, cfg, "phone", "m")
        d.deliver_all_once()
        assert len(store.undelivered()) == 1
        with caplog.at_level(logging.WARNING, logger="riskwatch"):
            d.reconfigure(config(store.path, phone=[b.url]))
        d.close()
        assert store.undelivered() == []
        assert "channel phone: dropped 1 queued message: " in caplog.text
        assert "removed from the config" in caplog.text


def test_url_listed_in_two_channels_is_one_destination(rx, store):
    cfg = config(store.path, phone=[rx.url], team=[rx.url, rx.url])
    assert routes(cfg) == {"phone": [destination_key(rx.url)], "team": [destination_key(rx.url)]}
    d = deliverer(cfg, store)
    assert list(d.dests) == [destination_key(rx.url)]
    assert d.dests[destination_key(rx.url)].channels == ("phone", "team")


def test_no_token_in_logs_or_state(tmp_path, rx, caplog):
    from riskwatch import logs

    state = str(tmp_path / "state")
    store = Store.open(state)
    url = rx.url_for("hook", user="bot", password=TOKEN)
    cfg = config(state, phone=[url])
    rx.always(500)
    queue(store, cfg, "phone", "m")
    with caplog.at_level(logging.DEBUG):
        report = deliverer(cfg, store).deliver_all_once()
        logging.getLogger("riskwatch.test").warning("the url was %s", url)
    store.close()
    raw = b"".join(p.read_bytes() for p in (tmp_path / "state").iterdir())
    assert FILENAME.encode() not in raw  # sanity: we read the db, not names
    assert TOKEN.encode() not in raw
    assert TOKEN not in repr(report)
    # the formatter that every handler uses masks a URL's hidden parts once they were seen
    text = "\n".join(logs.redact(r.getMessage()) for r in caplog.records)
    assert TOKEN not in text and "error=500" in text


def test_console_url_needs_no_apprise(store):
    import io

    out = io.StringIO()
    cfg = config(store.path, here=["console://"])
    queue(store, cfg, "here", "printed")
    report = deliverer(cfg, store, out=out).deliver_all_once()
    assert report.sent == 1
    assert out.getvalue() == "riskwatch: printed\nprinted\n\n"
    assert report.urls[0].url == "console://"


def test_unknown_scheme_stays_queued_with_an_error(store):
    cfg = config(store.path, phone=["nosuchscheme://abc/def"])
    queue(store, cfg, "phone", "m")
    report = deliverer(cfg, store).deliver_all_once()
    (item,) = store.undelivered()
    assert "does not understand" in (item.last_error or "")
    assert report.urls[0].failed == 1


def test_delivery_error_carries_retry_after():
    from riskwatch.delivery.apprise_sender import retry_after_in

    line = (
        "Failed to send Telegram notification to 123: Too Many Requests: retry after 35, error=429."
    )
    assert retry_after_in(line) == 35.0
    assert retry_after_in("Failed to send Slack notification: error=429.") is None
    assert DeliveryError("x", retry_after=3.0).retry_after == 3.0


def test_backoff_across_cycles_stays_within_the_cap_after_jitter(store, rx):
    cfg = config(store.path, phone=[rx.url])
    rx.always(500)
    queue(store, cfg, "phone", "kept")
    d = deliverer(cfg, store, clock=lambda: 1000.0, rand=lambda: 1.0)  # the most jitter
    delays = []
    for _ in range(6):
        d.deliver_all_once()
        (item,) = store.undelivered()
        delays.append(item.next_attempt_at - 1000.0)
    assert delays == [6.25, 12.5, 25.0, 50.0, FAST.cap, FAST.cap]
