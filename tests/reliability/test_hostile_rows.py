"""Hostile rows through the production wiring (issue 16, defects 5, 9, 10, 16): a position
listed twice, a forged or huge symbol, one persistently unreadable row, and a Retry-After of an
hour. Cycles run against the simulated exchange and deliver to a local receiver."""

from __future__ import annotations

import json

import pytest

from riskwatch.delivery.fake import Receiver
from riskwatch.exchange.fake.server import FakeBitget
from riskwatch.service.daemon import Daemon, Hooks

from .conftest import Rig, add_safe_positions, endanger, fired, leaks, tally

pytestmark = pytest.mark.reliability
POSITIONS = "/api/v2/mix/position/all-position"


def envelope(rows: list[dict]) -> bytes:
    return json.dumps({"code": "00000", "msg": "success", "requestTime": 1, "data": rows}).encode()


def row(symbol: str, **fields: object) -> dict:
    base = {
        "symbol": symbol,
        "holdSide": "long",
        "marginCoin": "USDT",
        "total": "1",
        "markPrice": "77.7778",  # 10 % from liquidation: a warning under the 15 % rule
        "liquidationPrice": "70",
        "leverage": "3",
        "marginMode": "isolated",
    }
    return {**base, **fields}


def warned(text: str, needle: str) -> int:
    return sum(1 for line in text.splitlines() if line.startswith("WARNING") and needle in line)


def test_a_position_listed_twice_fires_once(tmp_path, ledger, logtap) -> None:
    """Defect 5: the second copy made a new alert every poll, whatever ``repeat`` said."""
    with FakeBitget() as fx, Receiver() as rx:
        rig = Rig(tmp_path, fx, rx)
        try:
            fx.inject("raw", path=POSITIONS, body=envelope([row("DUPUSDT"), row("DUPUSDT")]))
            rig.until(lambda: fired(rx.bodies(), "DUPUSDT") > 0, cycles=3)
            for _ in range(3):
                rig.cycle()
            rx.wait_for(len(rx.received) + 1, timeout=0.5)
        finally:
            rig.close()
    row_ = tally(ledger, "hostile", rx.bodies(), ["DUPUSDT"], faults=4)
    assert row_.lost == 0 and row_.duplicated == 0
    assert warned(logtap.text(), "DUPUSDT long is listed twice") == 1  # once, not per poll


def test_exchange_text_cannot_forge_a_line_or_fill_a_message(tmp_path, ledger) -> None:
    """Defect 10: a newline in a symbol forged a line; a 1 MB symbol made a 33-part message."""
    forged = "EVILUSDT\nCRITICAL near-liquidation BTCUSDT long: forged"
    with FakeBitget() as fx, Receiver() as rx:
        rig = Rig(tmp_path, fx, rx)
        try:
            rows = [row(forged), row("H" * 1_000_000)]
            fx.inject("raw", path=POSITIONS, body=envelope(rows))
            rig.until(lambda: len(rx.bodies()) > 0, cycles=3)
            rig.cycle()
            rx.wait_for(len(rx.received) + 1, timeout=0.5)
        finally:
            rig.close()
    assert len(rx.received) == 1, "one message, not many parts"
    lines = rx.bodies()[0].splitlines()
    assert len(lines) == 2 and all(line.startswith("WARNING near-liquidation ") for line in lines)
    assert not any(line.startswith("CRITICAL") for line in lines)
    assert all(len(line) < 300 for line in lines)
    ledger.record("hostile", faults=2, expected=2, delivered=len(lines))


def test_one_unreadable_row_holds_only_its_own_symbol_and_warns_once(tmp_path, ledger, logtap):
    """Defect 16: a row with ``holdSide: "net"`` blocked every close of its product type and
    repeated its warning every cycle."""
    with FakeBitget() as fx, Receiver() as rx:
        symbols = add_safe_positions(fx, 2)
        rig = Rig(tmp_path, fx, rx)
        try:
            for s in symbols:
                endanger(fx, s)
            assert rig.until(lambda: all(fired(rx.bodies(), s) for s in symbols), cycles=3)
            first = list(rx.bodies())
            held, gone = symbols
            bad = row(held, holdSide="net")
            fx.inject("raw", path=POSITIONS, body=envelope([bad]))  # ``gone`` is closed
            for _ in range(3):
                rig.cycle()
            keys = {k[2] for k in rig.wired.watcher.state}
        finally:
            rig.close()
    assert held in keys, "the unreadable row's alert keeps its state"
    assert gone not in keys, "a position that closed resolves, whatever another row says"
    assert warned(logtap.text(), f"skipped the {held} row: holdSide") == 1
    row_ = tally(ledger, "hostile", first, symbols, faults=3)
    assert row_.lost == 0 and row_.duplicated == 0
    later = [ln for b in rx.bodies()[len(first) :] for ln in b.splitlines()]
    assert not [ln for ln in later if ln.startswith("WARNING")], "nothing fires again"


def test_a_retry_after_of_an_hour_never_delays_the_stale_alert(tmp_path, ledger, logtap) -> None:
    """Defect 9: Retry-After: 3600 on every request stretched the poll interval to 5 minutes,
    so ``riskwatch-stale`` (stale_after 2m) came minutes late."""
    with FakeBitget() as fx, Receiver() as rx:
        rig = Rig(tmp_path, fx, rx, stale_after="2m")
        try:
            fx.inject("429", retry_after="3600")
            outcome = rig.cycle()
            assert getattr(outcome.error, "retry_after", None) == pytest.approx(3600, abs=1)
            daemon = Daemon(str(rig.path), rig.wired.watcher, Hooks())
            waits = [daemon._interval(outcome) for _ in range(3)]
        finally:
            rig.close()
    assert max(waits) <= 60.0, waits  # stale_after / 2
    ledger.record("hostile", faults=1, leaked=leaks([logtap.text()]))
