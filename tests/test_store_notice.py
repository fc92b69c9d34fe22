"""The direct notice of a full state dir (hostile world, defect 8) reaches a critical-only
channel, and the service sees it as a failure (its end as a success)."""

from __future__ import annotations

import types
from dataclasses import replace

from riskwatch.delivery.fake import Receiver
from riskwatch.delivery.workers import Deliverer, RetryPolicy
from riskwatch.model import Channel, Config, Defaults
from riskwatch.service.wiring import STORE_FULL, _tell_store_trouble
from riskwatch.store.db import Store

FAST = RetryPolicy(initial=0.01, max_wait=0.05, jitter=0.0)


def _cfg(state_dir: str, pager: str) -> Config:
    cfg = Config(
        path="rules.yaml",
        state_dir=state_dir,
        channels=(Channel("pager", (pager,)),),
    )
    # channels: {critical: [pager]}: warnings go nowhere, criticals to the pager
    return replace(cfg, defaults=Defaults(channels=(), critical_channels=("pager",)))


def test_a_full_state_dir_reaches_a_critical_only_channel_as_a_failure(tmp_path) -> None:
    with Receiver() as rx:
        cfg = _cfg(str(tmp_path / "state"), rx.url)
        store = Store.open(cfg.state_dir)
        deliverer = Deliverer(cfg, store, policy=FAST)
        watcher = types.SimpleNamespace(cfg=cfg)
        try:
            _tell_store_trouble(deliverer, watcher, "state.sqlite: database or disk is full")
            assert rx.wait_for(1, timeout=10)
            _tell_store_trouble(deliverer, watcher, None)
            assert rx.wait_for(2, timeout=10)
        finally:
            deliverer.close()
            store.close()
    full, back = sorted(rx.received, key=lambda r: r.at)
    assert full.body.startswith(STORE_FULL) and full.payload["type"] == "failure"
    assert back.body.startswith("state dir writable again") and back.payload["type"] == "success"
