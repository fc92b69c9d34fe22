"""Crash safety: a process running real cycles (engine -> store -> deliverer -> apprise -> a
receiver in this process) is SIGKILLed at varied points and restarted, again and again.

Virtual time advances one step per committed cycle (the cycle counter is committed in the same
transaction as the alert state and the outbox), so a crash-free run and a crashed run must queue
exactly the same notifications. Asserted: every notification of the crash-free run arrives (no
alert lost), nothing else arrives (no firing repeated early after a restart), and a copy arrives
twice only when a kill fell between the receiver's acceptance and the outbox's record of it
(delivery is at-least-once; that window is the one duplicate a crash can cause).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from decimal import Decimal

import pytest

from riskwatch.delivery.fake import Receiver

pytestmark = pytest.mark.slow

CYCLES = 120
STEP = 60.0  # virtual seconds per cycle
BASE = 1_700_000_000.0
REPEAT = 300.0
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _gaps(i: int) -> dict[str, float]:
    """liq_gap_pct per symbol at cycle ``i``: safe, warning, critical, resolved, and again."""
    phase = i % 30
    btc = 20.0 if phase < 5 else 10.0 if phase < 15 else 3.0 if phase < 20 else 25.0
    eth = 20.0 if phase < 10 else 12.0 if phase < 25 else 30.0
    return {"BTCUSDT": btc, "ETHUSDT": eth}


def _snapshot(i: int, now: float):
    from riskwatch.model import Position, Snapshot

    positions = tuple(
        Position(
            product_type="USDT-FUTURES",
            symbol=sym,
            side="long",
            margin_coin="USDT",
            total=Decimal(1),
            mark_price=Decimal(100),
            liquidation_price=Decimal(100) - Decimal(str(gap)),
            leverage=Decimal(10),
        )
        for sym, gap in _gaps(i).items()
    )
    return Snapshot(taken_at=now, positions=positions, fetched=frozenset({"USDT-FUTURES"}))


def _lines(transitions) -> str:
    return "\n".join(
        f"{t.kind} {t.severity} {t.key[2]} at={t.at:.0f}"
        for t in sorted(transitions, key=lambda t: t.key)
    )


def child_main(argv: list[str]) -> None:
    """One process: resume after the last committed cycle, run to CYCLES, deliver each cycle."""
    from riskwatch.core import engine
    from riskwatch.delivery.workers import Deliverer, RetryPolicy, routes
    from riskwatch.model import Channel, Config, Defaults, Health, Message, Rule
    from riskwatch.store.db import Store

    state_dir, url = argv
    rule = Rule("near", "liq_gap_pct", "<", warning=15, critical=5, repeat=REPEAT)
    cfg = Config(
        path="crash.yaml",
        state_dir=state_dir,
        channels=(Channel("phone", (url,)),),
        defaults=Defaults(channels=("phone",), repeat=REPEAT),
        rules=(rule,),
        send_ttl=1e12,
        late_after=1e12,  # its clock is 2023's: no "(delayed ...)" for what is on time here
    )
    store = Store.open(state_dir)
    deliverer = Deliverer(cfg, store, policy=RetryPolicy(initial=0.01, max_wait=0.02, jitter=0))
    state = store.load_state()
    dest = routes(cfg)["phone"]
    i = int(store.get_meta("cycle") or 0)
    while i < CYCLES:
        i += 1
        now = BASE + i * STEP
        health = Health(last_success=now, started_at=BASE)
        transitions, state = engine.evaluate(
            cfg.rules, _snapshot(i, now), state, now, health=health, defaults=cfg.defaults
        )
        out = []
        if transitions:
            msg = Message("phone", f"cycle {i}", _lines(transitions), now)
            out = [(k, msg) for k in dest]
        store.commit_cycle(state, out, {"cycle": str(i)})
        deliverer.deliver_all_once()
        time.sleep(0.02)
    store.close()


def _expected() -> list[str]:
    """The crash-free run's lines, computed in-process with the same engine."""
    from riskwatch.core import engine
    from riskwatch.model import Defaults, Health, Rule

    rule = Rule("near", "liq_gap_pct", "<", warning=15, critical=5, repeat=REPEAT)
    state: dict = {}
    lines: list[str] = []
    for i in range(1, CYCLES + 1):
        now = BASE + i * STEP
        ts, state = engine.evaluate(
            (rule,),
            _snapshot(i, now),
            state,
            now,
            health=Health(last_success=now, started_at=BASE),
            defaults=Defaults(channels=("phone",), repeat=REPEAT),
        )
        if ts:
            lines += _lines(ts).splitlines()
    return lines


def _start(state_dir: str, url: str) -> subprocess.Popen:
    code = "import sys; from tests.test_crash import child_main; child_main(sys.argv[1:])"
    return subprocess.Popen(
        [sys.executable, "-c", code, state_dir, url], cwd=ROOT, stderr=subprocess.PIPE
    )


def test_sigkill_at_varied_points_loses_nothing_and_repeats_nothing(tmp_path):
    pytest.importorskip("riskwatch.core.engine")
    expected = _expected()
    assert any(line.startswith("repeat") for line in expected)  # the scenario covers repeats
    assert any(line.startswith("resolved") for line in expected)
    rng = random.Random(20261125)
    state_dir = str(tmp_path / "state")
    kills: list[int] = []  # how many messages the receiver held when each kill landed
    with Receiver() as rx:
        deadline = time.monotonic() + 25
        for _ in range(22):
            proc = _start(state_dir, rx.url)
            time.sleep(rng.uniform(0.25, 0.8))
            if proc.poll() is not None:
                break
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills.append(len(rx.received))
            if time.monotonic() > deadline:
                break
        proc = _start(state_dir, rx.url)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()[-2000:]
        bodies = [got.body for got in rx.received]
    got_lines = [line for body in bodies for line in body.splitlines()]
    print(f"{len(kills)} kills, {len(got_lines)} lines received, {len(expected)} expected")
    assert len(kills) >= 12
    assert sorted(set(got_lines)) == sorted(set(expected)), "lost or invented notifications"
    assert len(set(expected)) == len(expected)
    _assert_duplicates_only_across_a_kill(bodies, kills)


def _assert_duplicates_only_across_a_kill(bodies: list[str], kills: list[int]) -> None:
    """At-least-once, by sequence number: a message may arrive twice only when a kill landed
    after the service accepted it and before the outbox recorded that, so its first copy is
    the last message received before that kill and the second comes after it."""
    first: dict[str, int] = {}
    for seq, body in enumerate(bodies):
        if body not in first:
            first[body] = seq
            continue
        j = first[body]
        assert any(j == n - 1 and seq >= n for n in kills), f"duplicate #{seq} of #{j}: {body}"
    assert len(bodies) - len(first) <= len(kills)
