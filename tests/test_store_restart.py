"""Restart semantics through the store with the real engine: a restart (close, reopen, reload)
neither repeats a firing notification before its repeat is due nor restarts a pending ``for``."""

from __future__ import annotations

from decimal import Decimal

import pytest

from riskwatch.model import Defaults, Health, Position, Rule, Snapshot
from riskwatch.store.db import Store

engine = pytest.importorskip("riskwatch.core.engine")

T0 = 1_700_000_000.0
DEFAULTS = Defaults(channels=("phone",))


def _snap(gap: float, now: float) -> Snapshot:
    p = Position(
        "USDT-FUTURES",
        "BTCUSDT",
        "long",
        "USDT",
        Decimal(1),
        Decimal(100),
        Decimal(100) - Decimal(str(gap)),
        Decimal(10),
    )
    return Snapshot(taken_at=now, positions=(p,), fetched=frozenset({"USDT-FUTURES"}))


def _cycle(rule: Rule, store: Store, gap: float, now: float):
    ts, state = engine.evaluate(
        (rule,),
        _snap(gap, now),
        store.load_state(),
        now,
        health=Health(last_success=now, started_at=T0),
        defaults=DEFAULTS,
    )
    store.commit_cycle(state)
    return [t.kind for t in ts]


def _restart(store: Store) -> Store:
    path = store.path.rsplit("/", 1)[0]
    store.close()
    return Store.open(path)


def test_firing_is_not_repeated_early_after_restart(tmp_path):
    rule = Rule("near", "liq_gap_pct", "<", warning=15, repeat=600.0, channels=("phone",))
    store = Store.open(str(tmp_path / "s"))
    assert _cycle(rule, store, 10, T0) == ["firing"]
    store = _restart(store)
    assert _cycle(rule, store, 10, T0 + 60) == []
    store = _restart(store)
    assert _cycle(rule, store, 10, T0 + 599) == []
    assert _cycle(rule, store, 10, T0 + 601) == ["repeat"]
    store.close()


def test_pending_for_keeps_its_start_time(tmp_path):
    rule = Rule("near", "liq_gap_pct", "<", warning=15, for_=120.0, channels=("phone",))
    store = Store.open(str(tmp_path / "s"))
    assert _cycle(rule, store, 10, T0) == []
    (pending,) = store.load_state().values()
    assert pending.status == "pending" and pending.since == T0
    store = _restart(store)
    assert _cycle(rule, store, 10, T0 + 60) == []
    store = _restart(store)
    assert _cycle(rule, store, 10, T0 + 121) == ["firing"]
    store.close()
