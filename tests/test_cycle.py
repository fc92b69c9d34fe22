"""One watch cycle as production wires it (``wiring.wire``): the simulated exchange over real
HTTP, the real engine and store; time passed in as a clock function."""

from __future__ import annotations

import io
import logging
import os
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from riskwatch.config import load as config
from riskwatch.exchange.fake.server import FakeBitget
from riskwatch.service.wiring import Pinger, wire
from riskwatch.store.db import Store

RULES = """\
exchange:
  api: v2
  base_url: {url}
  fallback_url: {url}
  poll_interval: 1s
  stale_after: 1m
  timeout: 2s
state_dir: {state}
{extra}
channels:
  out: ["console://"]
defaults:
  channels: [out]
  repeat: 1h
rules:
  - name: near-liquidation
    metric: liq_gap_pct
    op: "<"
    warning: 8
"""


class Clock:
    def __init__(self, t: float = 1_800_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def fake():
    with FakeBitget() as fx:
        fx.add_position("BTCUSDT", "long", mark="100000", liquidation="90000")
        yield fx


def load(tmp_path: Path, fake: FakeBitget, extra: str = ""):
    path = tmp_path / "rules.yaml"
    path.write_text(RULES.format(url=fake.url, state=tmp_path / "state", extra=extra))
    env = FakeBitget.credentials_env()
    return config.load(str(path), environ=env), env


def test_heartbeat_goes_out_one_period_after_start_and_only_after_good_polls(tmp_path, fake):
    cfg, env = load(tmp_path, fake, "heartbeat: 1h")
    clock = Clock()
    wired = wire(cfg, environ=env, out=io.StringIO(), clock=clock)
    try:
        assert wired.watcher.cycle().outgoing == ()
        clock.t += 3599
        assert wired.watcher.cycle().outgoing == ()
        clock.t += 2
        fake.inject("code", code="40009")  # refused: not retried, so no real backoff here
        titles = [m.title for _, m in wired.watcher.cycle().outgoing]
        assert titles == ["riskwatch: 1 critical"], "the auth alert, and no heartbeat while blind"
        fake.clear_faults()
        outgoing = [m for _, m in wired.watcher.cycle().outgoing]
        assert [m.title for m in outgoing] == ["riskwatch: 1 resolved", "riskwatch: heartbeat"]
        msg = outgoing[1]
        assert msg.title == "riskwatch: heartbeat"
        assert msg.body == "still watching 1 position; 0 alerts firing"
        assert msg.channel == "out"
    finally:
        wired.close()


def test_last_good_poll_survives_a_restart_and_judges_stale(tmp_path, fake):
    cfg, env = load(tmp_path, fake)
    clock = Clock()
    first = wire(cfg, environ=env, out=io.StringIO(), clock=clock)
    first.watcher.cycle()
    first.close()
    stored = Store.open(cfg.state_dir)
    assert float(stored.get_meta("last_success")) == clock.t
    stored.close()

    clock.t += 61  # past stale_after (1m) since the last good poll, then the exchange fails
    fake.inject("code", code="40009")  # refused: not retried, so no real backoff here
    second = wire(cfg, environ=env, out=io.StringIO(), clock=clock)
    try:
        outcome = second.watcher.cycle()
        stale = [t for t in outcome.transitions if t.rule == "riskwatch-stale"]
        assert [(t.kind, t.severity) for t in stale] == [("firing", "critical")]
    finally:
        second.close()


def test_dry_run_prints_and_writes_nothing(tmp_path, fake):
    cfg, env = load(tmp_path, fake)
    Store.open(cfg.state_dir).close()  # an existing, empty state dir
    db = Path(cfg.state_dir) / "state.sqlite"
    before = db.read_bytes()
    listing = sorted(os.listdir(cfg.state_dir))  # no -wal, no -shm: the store is closed
    fake.set_mark("BTCUSDT", "95000")  # gap 5.3 %: warning
    out = io.StringIO()
    wired = wire(cfg, environ=env, out=out, dry_run=True)
    outcome = wired.watcher.cycle()
    wired.hooks.delivered(outcome)
    assert sorted(os.listdir(cfg.state_dir)) == listing  # not even while the store is open
    wired.close()
    assert "WARNING near-liquidation BTCUSDT long" in out.getvalue()
    assert db.read_bytes() == before
    assert sorted(os.listdir(cfg.state_dir)) == listing
    again = Store.open(cfg.state_dir)
    assert again.load_state() == {} and again.undelivered() == []
    again.close()


def test_metrics_endpoint_serves_position_metrics_and_alert_states(tmp_path, fake):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg, env = load(tmp_path, fake, f"metrics: {{listen: 127.0.0.1:{port}}}")
    fake.set_mark("BTCUSDT", "95000")
    wired = wire(cfg, environ=env, out=io.StringIO())
    try:
        outcome = wired.watcher.cycle()
        wired.hooks.exported(outcome, wired.watcher)
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
    finally:
        wired.close()
    text = page.decode()
    assert (
        'riskwatch_position_metric{account="default",metric="liq_gap_pct",'
        'product_type="USDT-FUTURES",side="long",symbol="BTCUSDT"} 5.26315789' in text
    )
    assert (
        'riskwatch_alert_firing{account="default",product_type="USDT-FUTURES",'
        'rule="near-liquidation",side="long",subject="BTCUSDT"} 1.0' in text
    )
    assert 'riskwatch_positions{account="default"} 1.0' in text
    assert 'riskwatch_alerts{severity="warning",status="firing"} 1.0' in text
    assert "riskwatch_outbox_depth 1.0" in text
    assert "riskwatch_cycle_duration_seconds_count 1.0" in text


class _Pings(BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []
    status = 200

    def do_GET(self) -> None:
        type(self).hits.append(self.path)
        self.send_response(type(self).status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_heartbeat_url_is_pinged_and_its_failure_logged_without_the_url(caplog):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Pings)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/ping/uuid-secret-123"
    try:
        ping = Pinger(url, timeout=2)
        ping(None)
        _wait(lambda: _Pings.hits == ["/ping/uuid-secret-123"])
        _Pings.status = 500
        with caplog.at_level(logging.WARNING, logger="riskwatch"):
            # a ping still finishing makes the next call a no-op (one at a time): call again
            _wait(lambda: ping(None) or "answered HTTP 500" in caplog.text)
        ping.join(timeout=5)
    finally:
        server.shutdown()
        server.server_close()
    assert "uuid-secret-123" not in caplog.text


def _wait(cond, timeout: float = 5.0) -> None:
    done = threading.Event()
    for _ in range(int(timeout / 0.02)):
        if cond():
            return
        done.wait(0.02)
    raise AssertionError("condition not met in time")
