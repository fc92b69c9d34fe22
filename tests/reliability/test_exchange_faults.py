"""Exchange faults: 429 storms, 5xx, hangs, resets, garbage, empty bodies, clock skew.

Each scenario injects faults on the positions endpoint of the simulated exchange, moves a
position past the warning threshold while they last, and runs cycles (the production wiring:
fetch, evaluate, persist, deliver through apprise to a local receiver) until the alert arrives.
It asserts: no cycle raises, the alert is delivered exactly once, and no secret reaches the
log, the output or the state dir.
"""

from __future__ import annotations

import pytest

from riskwatch.delivery.fake import Receiver
from riskwatch.exchange.fake.server import FakeBitget

from .conftest import (
    Rig,
    add_safe_positions,
    assert_no_secrets,
    endanger,
    state_bytes,
    tally,
)

pytestmark = pytest.mark.reliability
POSITIONS = "/api/v2/mix/position/all-position"

# (name, list of inject() kwargs, faults injected)
SCENARIOS = [
    ("429-retry-after", [dict(kind="429", count=15, retry_after="0")], 15),
    ("429-no-header", [dict(kind="429", count=4)], 4),
    ("5xx", [dict(kind="5xx", count=2, status=502), dict(kind="5xx", count=1, status=503)], 3),
    ("reset", [dict(kind="reset", count=4)], 4),
    ("hang", [dict(kind="hang", count=2, seconds=3.0)], 2),
    ("garbage", [dict(kind="garbage", count=3)], 3),
    ("empty", [dict(kind="empty", count=3)], 3),
    ("busy-code", [dict(kind="code", code="40015", count=3)], 3),
]


@pytest.mark.parametrize("name,faults,count", SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_alert_survives_exchange_faults(tmp_path, ledger, logtap, name, faults, count) -> None:
    with FakeBitget() as fx, Receiver() as rx:
        symbols = add_safe_positions(fx, 20)
        rig = Rig(tmp_path, fx, rx)
        try:
            assert rig.cycle().error is None  # a clean baseline: nothing firing
            for f in faults:
                fx.inject(path=POSITIONS, **f)
            endanger(fx, symbols[3])
            endanger(fx, symbols[11])
            targets = [symbols[3], symbols[11]]
            rig.until(lambda: all(tally_one(rx, s) for s in targets), cycles=8)
            for _ in range(2):  # a couple of clean cycles: nothing more may arrive
                rig.cycle()
            rx.wait_for(len(rx.received) + 1, timeout=0.3)
        finally:
            rig.close()
        row = tally(ledger, "exchange", rx.bodies(), targets, faults=count)
        assert row.lost == 0, f"{name}: alert lost"
        assert row.duplicated == 0, f"{name}: duplicate notifications"
        assert not [b for b in rx.bodies() if any(s in b for s in symbols[:3])]
        assert_no_secrets([logtap.text(), rig.out.getvalue(), *rx.bodies()], "logs/output")
        assert_no_secrets(state_bytes(rig.state_dir), "the state dir")


def tally_one(rx: Receiver, symbol: str) -> bool:
    from .conftest import fired

    return fired(rx.bodies(), symbol) > 0


def test_clock_skew_is_absorbed(tmp_path, ledger, logtap) -> None:
    """The exchange's clock runs 5 minutes ahead (then behind): the client resyncs on 40008
    and the alert still arrives once."""
    with FakeBitget() as fx, Receiver() as rx:
        symbols = add_safe_positions(fx, 5)
        rig = Rig(tmp_path, fx, rx)
        try:
            assert rig.cycle().error is None
            fx.skew(300)
            endanger(fx, symbols[0])
            assert rig.until(lambda: tally_one(rx, symbols[0]), cycles=4)
            fx.skew(-300)
            endanger(fx, symbols[1])
            assert rig.until(lambda: tally_one(rx, symbols[1]), cycles=4)
            rig.cycle()
        finally:
            rig.close()
        row = tally(ledger, "exchange", rx.bodies(), symbols[:2], faults=2)
        assert row.lost == 0 and row.duplicated == 0
        assert_no_secrets([logtap.text(), *rx.bodies()], "logs/output")
        assert_no_secrets(state_bytes(rig.state_dir), "the state dir")


def test_outage_raises_stale_then_alert_arrives(tmp_path, ledger, logtap) -> None:
    """The exchange is unreachable for longer than ``stale_after``: the built-in
    ``riskwatch-stale`` alert goes out; once it is back, the pending position alert arrives."""
    with FakeBitget() as fx, Receiver() as rx:
        symbols = add_safe_positions(fx, 5)
        rig = Rig(tmp_path, fx, rx, stale_after="1s")
        try:
            assert rig.cycle().error is None
            fx.inject("5xx", path=POSITIONS, status=503)  # until cleared
            endanger(fx, symbols[2])
            assert rig.until(lambda: any("stale" in b for b in rx.bodies()), cycles=3)
            assert rig.outcomes[-1].error is not None  # no crash: a failed poll is an outcome
            fx.clear_faults()
            assert rig.until(lambda: tally_one(rx, symbols[2]), cycles=3)
        finally:
            rig.close()
        row = tally(ledger, "exchange", rx.bodies(), [symbols[2]], faults=1)
        assert row.lost == 0 and row.duplicated == 0
        assert_no_secrets([logtap.text(), *rx.bodies()], "logs/output")
