"""feed: stream through the real daemon: simulator (REST + WebSockets), store, apprise, receiver.

With a 10 s poll, an alert that arrives at all before the next scheduled poll came from a tick;
a dropped socket is survived without a missed alert; positions opened or closed between polls
are followed (subscribe, unsubscribe) thanks to the private channel's push and an early poll.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from riskwatch.config import load as config
from riskwatch.delivery.fake import Receiver
from riskwatch.exchange.fake.server import FakeBitget
from riskwatch.exchange.fake.ws import FakeBitgetWS
from riskwatch.exchange.stream import Timing
from riskwatch.service.daemon import Daemon
from riskwatch.service.wiring import wire

FAST = Timing(ping_every=0.2, silent_after=0.6, min_gap=0.05, max_backoff=0.2, open_timeout=2.0)
POSITIONS = "/api/v2/mix/position/all-position"


def wait(what: Callable[[], object], timeout: float = 8.0) -> None:
    end = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < end, "condition not reached"
        time.sleep(0.01)


RULES = """
exchange:
  base_url: {url}
  fallback_url: null
  poll_interval: 10s
  feed: stream
  ws_public_url: {public}
  ws_private_url: {private}
state_dir: {state}
channels:
  rx: ["{rx}"]
defaults:
  channels: [rx]
  repeat: 0
rules:
  - name: near
    metric: liq_gap_pct
    op: "<"
    warning: 15
"""


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[FakeBitget, FakeBitgetWS, Receiver, Daemon]]:
    with FakeBitget() as fx, FakeBitgetWS(fx) as ws, Receiver() as rx:
        fx.add_position("BTCUSDT", "long", total="1", mark="100", liquidation="80")
        path = tmp_path / "rules.yaml"
        path.write_text(
            RULES.format(
                url=fx.url,
                public=ws.url("public"),
                private=ws.url("private"),
                state=tmp_path / "state",
                rx=rx.url,
            )
        )
        env = dict(os.environ, **FakeBitget.credentials_env())
        cfg = config.load(str(path), environ=env)
        w = wire(cfg, environ=env, stream_timing=FAST)
        d = Daemon(str(path), w.watcher, w.hooks, environ=env, stop=w.stop, feed=w.feed)
        loop = threading.Thread(target=d.loop, daemon=True)
        loop.start()
        try:
            assert w.feed is not None
            wait(lambda: ws.subscribed() == {"BTCUSDT"} and ws.logins == 1)
            yield fx, ws, rx, d
        finally:
            d.halt()
            loop.join(5)
            for close in w.hooks.closers:
                close()


def polls(fx: FakeBitget) -> int:
    return sum(1 for p in fx.paths() if p == POSITIONS)


def test_a_tick_past_the_threshold_alerts_before_the_next_poll(running) -> None:
    fx, _, rx, d = running
    # the private channels' first snapshots ask for one reconciling poll, a second after the
    # first poll: let it pass, or a slow alert would find it and take it for the alert's poll
    wait(lambda: polls(fx) >= 2)
    before = polls(fx)
    fx.set_mark("BTCUSDT", "90")  # gap 11.1 % < 15
    assert rx.wait_for(1, timeout=8)
    assert "BTCUSDT" in rx.bodies()[0] and "11.11" in rx.bodies()[0]
    assert polls(fx) == before  # no poll was needed: the tick did it
    assert "stream up" in d.status_line(None)


def test_a_dropped_socket_is_survived_without_a_missed_alert(running) -> None:
    fx, ws, rx, d = running
    feed = d.feed
    assert feed is not None
    ws.drop()
    wait(lambda: feed.stream.public.connects >= 2 and feed.stream.private.connects >= 2)
    wait(lambda: ws.subscribed() == {"BTCUSDT"})
    fx.set_mark("BTCUSDT", "85")
    assert rx.wait_for(1, timeout=8)
    assert "BTCUSDT" in rx.bodies()[0]


def test_positions_opened_and_closed_between_polls_are_followed(running) -> None:
    fx, ws, rx, _ = running
    fx.add_position("ETHUSDT", "short", total="1", mark="10", liquidation="20")
    wait(lambda: ws.subscribed() == {"BTCUSDT", "ETHUSDT"})  # push -> early poll -> subscribe
    fx.set_mark("ETHUSDT", "18")  # gap 11.1 %
    assert rx.wait_for(1, timeout=8)
    assert "ETHUSDT" in rx.bodies()[0]
    fx.liquidate("ETHUSDT", "short", price="19.9")  # a close between polls, with its fill
    wait(lambda: ws.subscribed() == {"BTCUSDT"})
    assert rx.wait_for(2, timeout=8)
    closed = "\n".join(rx.bodies()[1:])
    assert "liquidated" in closed.lower() and "ETHUSDT" in closed, closed
    assert "mark 18" in closed  # the last known values are the tick's, not the older poll's


def test_a_silent_stream_is_said_while_polling_goes_on(running) -> None:
    _, ws, _, d = running
    ws.mute()
    wait(lambda: "stream down since" in d.status_line(None))
    assert "silent" in d.status_line(None) and "polling only" in d.status_line(None)
    ws.unmute()
    wait(lambda: "stream up" in d.status_line(None))


def test_status_reads_the_stored_stream_state() -> None:
    from riskwatch.cli.status import stream_line

    assert stream_line("up", 0).startswith("stream: up")
    line = stream_line("down 1000.0 public WebSocket: silent for 30s", 1090.0)
    assert "down since" in line and "(1m30s)" in line and "polling goes on" in line
