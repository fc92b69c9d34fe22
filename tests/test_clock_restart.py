"""Times a previous process stored while the host clock was ahead (it was set back since):
they count as now at start, so a pending alert's ``for`` is not held back by the step."""

from __future__ import annotations

import io
from pathlib import Path

from riskwatch.config import load as config
from riskwatch.exchange.fake.server import FakeBitget
from riskwatch.model import AlertState
from riskwatch.service.wiring import wire
from riskwatch.store.db import Store

RULES = """\
exchange: {{api: v2, base_url: {url}, fallback_url: {url}, poll_interval: 1s}}
state_dir: {state}
channels: {{out: ["console://"]}}
defaults: {{channels: [out]}}
rules:
  - {{name: near, metric: liq_gap_pct, op: "<", warning: 15, for: 1m}}
"""
KEY = ("near", "USDT-FUTURES", "BTCUSDT", "long", "default")


def test_a_pending_alert_stored_an_hour_ahead_fires_after_its_for(tmp_path: Path, caplog) -> None:
    now = [1_800_000_000.0]
    state = tmp_path / "state"
    ahead = AlertState(KEY, "pending", "warning", now[0] + 3600, 13.5, None, None, ("out",),
                       (), "liq_gap_pct", "<", "position")  # fmt: skip
    store = Store.open(str(state))
    store.commit_cycle({KEY: ahead}, meta={"last_success": str(now[0] + 3600)})
    store.close()
    with FakeBitget() as fx:
        fx.add_position("BTCUSDT", "long", mark="100000", liquidation="86500", total="0.5")
        path = tmp_path / "rules.yaml"
        path.write_text(RULES.format(url=fx.url, state=state))
        env = FakeBitget.credentials_env()
        wired = wire(config.load(str(path), environ=env), environ=env, out=io.StringIO(),
                     clock=lambda: now[0])  # fmt: skip
        try:
            assert wired.watcher.health.last_success == now[0]
            assert not wired.watcher.cycle().outgoing  # pending: its `for` runs from now
            now[0] += 61
            (msg,) = (m for _, m in wired.watcher.cycle().outgoing)
        finally:
            for close in wired.hooks.closers:
                close()
    assert msg.body.startswith("WARNING near BTCUSDT long")
    assert "3600 s ahead of this host's clock" in caplog.text


def test_a_message_queued_an_hour_ahead_is_due_at_start(tmp_path: Path, caplog) -> None:
    """Its failed try before the restart set its next one an hour (the step) ahead: it must
    not hold the URL's messages for that hour."""
    import threading

    from riskwatch.delivery.fake import Receiver
    from riskwatch.delivery.retry import RetryPolicy, deliver_pending
    from riskwatch.delivery.workers import Deliverer, routes
    from riskwatch.model import Channel, Config, Message

    now = 1_800_000_000.0
    with Receiver() as rx:
        cfg = Config(path="r", state_dir=str(tmp_path / "s"), channels=(Channel("p", (rx.url,)),))
        store = Store.open(cfg.state_dir)
        msg = Message("p", "riskwatch: 1 critical", "CRITICAL near", now + 3600)
        store.commit_cycle({}, [(k, msg) for k in routes(cfg)["p"]])
        (item,) = store.undelivered()
        store.mark_failed(item.id, attempts=1, next_attempt_at=now + 3630, error="HTTP 500")
        d = Deliverer(cfg, store, clock=lambda: now)  # the next start, its clock set back
        stop = threading.Event()
        try:
            (dest,) = d.dests.values()
            policy = RetryPolicy(initial=0.01, max_wait=0.05, jitter=0.0)
            result = deliver_pending(dest, store, ttl=6 * 3600, force=False, policy=policy,
                                     clock=lambda: now, sleep=stop.wait, stop=stop)  # fmt: skip
        finally:
            d.close()
            store.close()
    assert result.sent == 1 and rx.bodies() == ["CRITICAL near"]
    assert "1 message was queued up to 3600 s ahead" in caplog.text
