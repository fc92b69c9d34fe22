"""feed: stream (DESIGN 13): the WebSocket client against the simulator's real sockets, the
tick-updated metrics against the next poll, the config keys, the stream's self-alert."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from riskwatch.config import load as config
from riskwatch.config.schema import json_schema
from riskwatch.core import metrics, selfalerts
from riskwatch.core.marks import Mark, apply, remark
from riskwatch.errors import ConfigError
from riskwatch.exchange import wsproto
from riskwatch.exchange.credentials import Credentials
from riskwatch.exchange.fake.server import FakeBitget
from riskwatch.exchange.fake.ws import FakeBitgetWS
from riskwatch.exchange.stream import Stream, Timing
from riskwatch.model import Defaults, Health, Position, Snapshot
from tests.exchange_support import CREDS, client

FAST = Timing(ping_every=0.2, silent_after=0.6, min_gap=0.05, max_backoff=0.2, open_timeout=2.0)
BTC = frozenset({("USDT-FUTURES", "BTCUSDT")})


class Recorder:
    """A stream Listener that remembers everything and lets a test wait for a condition."""

    def __init__(self) -> None:
        self.ticks: list[wsproto.Tick] = []
        self.private_pushes: list[str] = []
        self.states: list[tuple[str, bool, str]] = []
        self._cv = threading.Condition()

    def tick(self, tick: wsproto.Tick) -> None:
        with self._cv:
            self.ticks.append(tick)
            self._cv.notify_all()

    def private(self, push: wsproto.Private) -> None:
        with self._cv:
            self.private_pushes.append(push.channel)
            self._cv.notify_all()

    def state(self, socket: str, up: bool, reason: str) -> None:
        with self._cv:
            self.states.append((socket, up, reason))
            self._cv.notify_all()

    def until(self, what: Callable[[], object], timeout: float = 5.0) -> None:
        with self._cv:
            assert self._cv.wait_for(what, timeout), "condition not reached"


def wait(what: Callable[[], object], timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < end, "condition not reached"
        time.sleep(0.01)


@pytest.fixture
def venue():
    with FakeBitget() as fx, FakeBitgetWS(fx) as ws:
        fx.add_position("BTCUSDT", "long", total="2", mark="100", liquidation="80")
        fx.add_position("ETHUSDT", "short", total="1", mark="10", liquidation="12")
        yield fx, ws


def stream(ws: FakeBitgetWS, rec: Recorder, creds: Credentials = CREDS, **kw) -> Stream:
    return Stream(
        rec,
        dialect=kw.pop("dialect", "v2"),
        public_url=ws.url("public"),
        private_url=ws.url("private"),
        creds=creds,
        product_types=("USDT-FUTURES",),
        timing=kw.pop("timing", FAST),
    )


def test_ticks_carry_the_mark_never_the_last_price(venue) -> None:
    fx, ws = venue
    rec = Recorder()
    s = stream(ws, rec).start()
    try:
        s.set_symbols(BTC)
        rec.until(lambda: rec.ticks)  # the snapshot pushed on subscribing
        fx.set_mark("BTCUSDT", "95.5")
        rec.until(lambda: rec.ticks[-1].mark == Decimal("95.5"))
        assert all(t.symbol == "BTCUSDT" for t in rec.ticks)  # ETH is not held: not subscribed
        rec.until(lambda: "positions" in rec.private_pushes and ws.logins == 1)
    finally:
        s.close()


def test_reconnects_after_a_drop_and_resubscribes(venue) -> None:
    fx, ws = venue
    rec = Recorder()
    s = stream(ws, rec).start()
    try:
        s.set_symbols(BTC)
        wait(lambda: s.public.connects == 1 and s.private.connects == 1)
        ws.drop()
        rec.until(lambda: any(not up for _, up, _ in rec.states))
        wait(lambda: s.public.connects == 2 and s.private.connects == 2)
        assert ws.subscribed() == {"BTCUSDT"} and ws.subscribed("positions") == {"default"}
        fx.set_mark("BTCUSDT", "91")
        rec.until(lambda: rec.ticks[-1].mark == Decimal("91"))
        assert ws.logins == 2
    finally:
        s.close()


def test_a_silent_socket_is_reconnected(venue) -> None:
    _, ws = venue
    rec = Recorder()
    s = stream(ws, rec).start()
    try:
        s.set_symbols(BTC)
        wait(lambda: s.public.connects == 1)
        ws.mute()  # no pong, no push: only the silence tells
        rec.until(lambda: any("silent" in why for _, up, why in rec.states if not up))
        ws.unmute()
        wait(lambda: s.public.connects >= 2)
        wait(lambda: ws.pings > 0)  # the heartbeat goes on after the reconnect
    finally:
        s.close()


def test_a_refused_login_is_said_and_retried(venue) -> None:
    _, ws = venue
    rec = Recorder()
    wrong = Credentials(CREDS.api_key, "not-the-secret", CREDS.passphrase)
    s = stream(ws, rec, creds=wrong).start()
    try:
        rec.until(lambda: any("login refused: 30015" in why for _, _, why in rec.states))
        wait(lambda: ws.refused >= 2)  # backoff, then again: a key fixed later is picked up
        assert s.private.connects == 0 and "not-the-secret" not in repr(rec.states)
    finally:
        s.close()


def test_subscriptions_follow_the_held_symbols(venue) -> None:
    _, ws = venue
    rec = Recorder()
    s = stream(ws, rec).start()
    try:
        both = BTC | {("USDT-FUTURES", "ETHUSDT")}
        s.set_symbols(both)
        wait(lambda: ws.subscribed() == {"BTCUSDT", "ETHUSDT"})
        s.set_symbols(frozenset({("USDT-FUTURES", "ETHUSDT")}))
        wait(lambda: ws.subscribed() == {"ETHUSDT"})
        s.set_symbols(frozenset())  # nothing held: the public socket goes idle
        wait(lambda: ws.open_sockets == 1)
    finally:
        s.close()


def test_v3_dialect_subscribes_topics(venue) -> None:
    fx, ws = venue
    rec = Recorder()
    s = stream(ws, rec, dialect="v3").start()
    try:
        s.set_symbols(BTC)
        fx.set_mark("BTCUSDT", "97")
        rec.until(lambda: rec.ticks and rec.ticks[-1].mark == Decimal("97"))
        rec.until(lambda: "position" in rec.private_pushes)
        assert ws.subscribed("position") == {"UTA"}
    finally:
        s.close()


@pytest.mark.parametrize("side,marks", [("long", ["95", "85.25"]), ("short", ["104", "111.5"])])
def test_tick_metrics_agree_with_the_next_poll_isolated(side: str, marks: list[str]) -> None:
    liq = "80" if side == "long" else "120"
    with FakeBitget() as fx:
        fx.add_position("BTCUSDT", side, total="3", mark="100", open_price="101", liquidation=liq)
        fx.book.mutate(
            lambda b: setattr(
                b.positions["USDT-FUTURES", "BTCUSDT", side], "margin_mode", "isolated"
            )
        )
        c = client(fx)
        base = c.fetch_snapshot()
        for mark in marks:
            fx.set_mark("BTCUSDT", mark)
            polled = c.fetch_snapshot().positions[0]
            ticked = remark(base.positions[0], Decimal(mark))
            for name in ("liq_gap_pct", "unrealizedPL", "unrealizedPLR", "notional"):
                fn = metrics.lookup("position", name).fn  # type: ignore[union-attr]
                assert fn(ticked) == pytest.approx(fn(polled), rel=1e-6, abs=1e-7), name


def test_the_newer_of_tick_and_poll_wins() -> None:
    p = Position(
        "USDT-FUTURES", "BTCUSDT", "long", "USDT", Decimal(1), Decimal(100), Decimal(80), Decimal(5)
    )
    snap = Snapshot(taken_at=1000.5, positions=(p,), exchange_time=1000.0)
    key = ("USDT-FUTURES", "BTCUSDT")
    assert apply(snap, {key: Mark(Decimal(90), at=999.0)}) is snap  # older than the poll
    newer = apply(snap, {key: Mark(Decimal(90), at=1000.2)})
    assert newer.positions[0].mark_price == Decimal(90)


def test_stream_down_past_stale_after_fires_a_warning() -> None:
    out: list = []
    nxt: dict = {}
    health = Health(last_success=1000.0, stream_down_since=800.0, stream_problem="public: x")
    d = Defaults(channels=("c",))
    selfalerts.evaluate(health, {}, 1000.0, d, 120.0, out, nxt)
    (t,) = [t for t in out if t.rule == selfalerts.STREAM]
    assert t.severity == "warning" and "down for 3m20s" in dict(t.fields)["text"]
    out2: list = []
    selfalerts.evaluate(replace(health, stream_down_since=None), nxt, 1010.0, d, 120.0, out2, {})
    assert [t.kind for t in out2 if t.rule == selfalerts.STREAM] == ["resolved"]


def _rules(tmp_path: Path, exchange: str, name: str = "rules.yaml") -> str:
    f = tmp_path / name
    f.write_text(
        f"exchange:\n{exchange}channels: {{c: ['console://']}}\ndefaults: {{channels: [c]}}\n"
    )
    return str(f)


def test_config_keys_and_the_missing_package(tmp_path: Path, monkeypatch) -> None:
    path = _rules(tmp_path, "  feed: stream\n  ws_public_url: ws://127.0.0.1:1/v2/ws/public\n")
    ex = config.load(path, environ={}).exchange
    assert (ex.feed, ex.ws_public_url, ex.ws_private_url) == (
        "stream",
        "ws://127.0.0.1:1/v2/ws/public",
        None,
    )
    bad = _rules(tmp_path, "  feed: push\n  ws_private_url: https://x\n", "bad.yaml")
    with pytest.raises(ConfigError) as info:
        config.load(bad, environ={})
    assert any("exchange.feed" in p and ":2:" in p for p in info.value.problems)
    assert any("ws_private_url" in p and "ws://" in p for p in info.value.problems)
    real = __import__("importlib.util").util.find_spec
    monkeypatch.setattr(
        "importlib.util.find_spec", lambda n, *a: None if n == "websockets" else real(n, *a)
    )
    with pytest.raises(ConfigError) as info:
        config.load(path, environ={})
    assert "riskwatch[stream]" in info.value.problems[0] and ":2:" in info.value.problems[0]
    props = json_schema()["$defs"]["exchange"]["properties"]
    assert props["feed"]["enum"] == ["poll", "stream"] and "ws_public_url" in props


def test_backoff_stays_within_bitgets_connection_limit() -> None:
    import random

    from riskwatch.exchange.stream import backoff

    t, rng = Timing(), random.Random(3)
    gaps = [backoff(n, t, rng) for n in range(1, 40)]
    assert min(gaps) >= t.min_gap and max(gaps) <= t.max_backoff
    assert gaps[0] == t.min_gap and gaps[-1] >= t.max_backoff / 2  # grows, then capped
    # two sockets at the floor: at most 300 connection attempts per IP per 5 minutes
    assert 2 * 300 / t.min_gap <= 300
    assert len({round(g, 6) for g in gaps[10:]}) > 1  # jittered, not in lockstep


def test_evaluations_are_coalesced_to_ten_a_second() -> None:
    from riskwatch.model import ExchangeSettings
    from riskwatch.service.feed import StreamFeed

    now = [100.0]
    feed = StreamFeed(ExchangeSettings(), CREDS, monotonic=lambda: now[0])
    feed.tick(wsproto.Tick("USDT-FUTURES", "BTCUSDT", Decimal(1), at=1.0))
    assert feed.due(now[0]) == "marks"
    feed.take_marks()
    for i in range(5):  # five more ticks within 60 ms: one evaluation, 100 ms after the last
        feed.tick(wsproto.Tick("USDT-FUTURES", "BTCUSDT", Decimal(2 + i), at=2.0 + i))
    now[0] = 100.0625
    assert feed.due(now[0]) is None and feed.next_due(now[0]) == pytest.approx(0.0375)
    now[0] = 100.125
    assert feed.due(now[0]) == "marks"
    assert feed.take_marks()[("USDT-FUTURES", "BTCUSDT")].price == Decimal(6)  # the newest
    feed.tick(wsproto.Tick("USDT-FUTURES", "BTCUSDT", Decimal(1), at=0.5))  # older: ignored
    assert feed.due(now[0] + 1) is None
    feed.private(wsproto.Private("positions"))
    assert feed.due(now[0]) == "poll"  # a private push asks for a poll at once
    feed.observe(None)
    feed.private(wsproto.Private("account"))
    assert feed.due(now[0] + 0.5) is None and feed.due(now[0] + 1.0) == "poll"  # <= 1/s


def test_debug_logs_never_carry_the_login_frame(venue) -> None:
    import io
    import logging

    from riskwatch import logs

    _, ws = venue
    buf, root = io.StringIO(), logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        logs.configure("debug", stream=buf)
        rec = Recorder()
        s = stream(ws, rec).start()
        try:
            s.set_symbols(BTC)
            wait(lambda: ws.logins == 1 and s.public.connects == 1)
        finally:
            s.close()
    finally:
        root.handlers[:], _ = saved[0], root.setLevel(saved[1])
        logging.getLogger("websockets").setLevel(logging.NOTSET)
    text = buf.getvalue()
    # websockets would show each frame's start (the key's first characters, the signature's
    # end) at debug level: the login frame must not appear in any form
    assert '"login"' not in text and "apiKey" not in text and CREDS.passphrase not in text


def test_an_unexpected_error_while_connecting_is_said_and_retried(monkeypatch) -> None:
    """websockets raises more than OSError and InvalidHandshake while connecting (a proxy
    from the environment: InvalidProxy, or ImportError for SOCKS without python-socks)."""
    import websockets.sync.client

    tries: list[str] = []

    def refuse(url: str, **kw: object) -> None:
        tries.append(url)
        raise ImportError("python-socks is required to use a SOCKS proxy")

    monkeypatch.setattr(websockets.sync.client, "connect", refuse)
    rec = Recorder()
    s = Stream(
        rec,
        dialect="v2",
        public_url="ws://127.0.0.1:9/public",
        private_url="ws://127.0.0.1:9/private",
        creds=CREDS,
        product_types=("USDT-FUTURES",),
        timing=FAST,
    ).start()
    try:
        rec.until(lambda: any("SOCKS" in why for name, up, why in rec.states if not up))
        wait(lambda: tries.count("ws://127.0.0.1:9/private") >= 2)  # the thread lives on
    finally:
        s.close()


def test_close_ends_a_login_still_waiting_for_its_answer() -> None:
    """SIGTERM while the private socket waits for Bitget's login answer (up to open_timeout):
    the thread must end at close, not hold the shutdown grace the delivery needs."""
    from websockets.sync.server import serve

    logins = threading.Event()

    def silent(conn) -> None:  # takes the login frame, answers nothing, until closed
        for _ in conn:
            logins.set()

    server = serve(silent, "127.0.0.1", 0, ping_interval=None)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"ws://127.0.0.1:{server.socket.getsockname()[1]}"
    slow = replace(FAST, open_timeout=60.0)
    s = Stream(
        Recorder(),
        dialect="v2",
        public_url=url,
        private_url=url,
        creds=CREDS,
        product_types=("USDT-FUTURES",),
        timing=slow,
    ).start()
    try:
        assert logins.wait(10)
        s.close()
        assert not s.private._thread.is_alive(), "the login held the thread after close"
    finally:
        server.shutdown()


def test_a_socket_closed_during_its_handshake_never_reports_up() -> None:
    """An account-mode switch closes the old stream while a socket may still be connecting;
    its late "up" would erase the new stream's same-named socket being down."""
    from riskwatch.exchange.stream import Socket

    class Conn:
        def send(self, text: str) -> None:
            raise AssertionError("nothing is sent on a closed socket's connection")

    rec = Recorder()
    s = Socket("public", "ws://127.0.0.1:9/", rec, timing=FAST, wanted=[{"a": "b"}])
    s.stop()
    s._session(Conn())
    assert rec.states == [] and s.connects == 0
