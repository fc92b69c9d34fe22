"""Channel faults: the notification service answers 429 (with and without Retry-After), 500,
hangs, or is down and comes back. The alert must arrive once it can, exactly once, and the
channel token (the receiver URL's password) must never reach the log or the state dir.
"""

from __future__ import annotations

import time

import pytest

from riskwatch.delivery.fake import Receiver
from riskwatch.exchange.fake.server import FakeBitget

from .conftest import (
    CHANNEL_TOKEN,
    Rig,
    add_safe_positions,
    assert_no_secrets,
    endanger,
    fired,
    state_bytes,
    tally,
)

pytestmark = pytest.mark.reliability


def _script_429_retry_after(rx: Receiver) -> int:
    rx.fail(2, status=429, retry_after=1)
    return 2


def _script_429_bare(rx: Receiver) -> int:
    rx.fail(2, status=429)
    return 2


def _script_500(rx: Receiver) -> int:
    rx.fail(3, status=500)
    return 3


def _script_hang(rx: Receiver) -> int:
    rx.hang(1, seconds=8.0)
    return 1


SCRIPTS = {
    "429-retry-after": _script_429_retry_after,
    "429-no-header": _script_429_bare,
    "500": _script_500,
    "hang": _script_hang,
}


@pytest.mark.parametrize("name", list(SCRIPTS))
def test_alert_delivered_through_channel_faults(tmp_path, ledger, logtap, name) -> None:
    with FakeBitget() as fx, Receiver(max_hang=8.0) as rx:
        symbols = add_safe_positions(fx, 10)
        # A hang is bounded by the send deadline (then the send is uncertain, retried once).
        rig = Rig(tmp_path, fx, rx, url_query={"send_timeout": "2s"} if name == "hang" else None)
        try:
            rig.cycle()
            faults = SCRIPTS[name](rx)
            endanger(fx, symbols[4])
            assert rig.until(lambda: fired(rx.bodies(), symbols[4]) > 0, cycles=15)
            for _ in range(2):
                rig.cycle()
            time.sleep(0.3)
        finally:
            rx.release()
            rig.close()
        row = tally(ledger, "channel", rx.bodies(), [symbols[4]], faults=faults)
        assert row.lost == 0, f"{name}: alert lost"
        assert row.duplicated == 0, f"{name}: duplicate notification"
        assert rx.requests > len(rx.received)  # the faults really were hit
        _no_leaks(rig, logtap)


def test_channel_down_then_back(tmp_path, ledger, logtap) -> None:
    """The service is down for a few cycles while two alerts fire; both arrive once it is back,
    and nothing arrives twice."""
    with FakeBitget() as fx, Receiver() as rx:
        symbols = add_safe_positions(fx, 10)
        rig = Rig(tmp_path, fx, rx)
        try:
            rig.cycle()
            rx.down()
            endanger(fx, symbols[1])
            for _ in range(2):
                rig.cycle()
            endanger(fx, symbols[7])
            rig.cycle()
            time.sleep(2.5)  # the worker's retries meet a closed port
            rx.up()
            targets = [symbols[1], symbols[7]]
            assert rig.until(lambda: all(fired(rx.bodies(), s) for s in targets), cycles=40)
            rig.cycle()
            time.sleep(0.3)
        finally:
            rig.close()
        row = tally(ledger, "channel", rx.bodies(), targets, faults=1)
        assert row.lost == 0 and row.duplicated == 0
        _no_leaks(rig, logtap)


def _no_leaks(rig: Rig, logtap) -> None:
    assert_no_secrets([logtap.text(), rig.out.getvalue()], "logs/output")
    assert_no_secrets(state_bytes(rig.state_dir), "the state dir")
    assert CHANNEL_TOKEN not in logtap.text()
