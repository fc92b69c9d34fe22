"""``riskwatch demo``, the README's first command, as a user runs it: a process, then Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

pytestmark = pytest.mark.slow


def test_demo_shows_warning_critical_resolved_and_a_liquidation_then_stops_on_ctrl_c(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BITGET_", "NOTIFY_"))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "riskwatch", "demo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    seen = ""
    deadline = time.monotonic() + 45  # the scripted path liquidates ETHUSDT about 27 s in
    while time.monotonic() < deadline and "LIQUIDATED ETHUSDT short" not in seen:
        time.sleep(0.2)
        seen = "".join(lines)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=8) == 0
    reader.join(5)
    out, err = "".join(lines), proc.stderr.read()
    order = [
        out.find(s)
        for s in (
            "WARNING near-liquidation",
            "CRITICAL near-liquidation",
            "RESOLVED near-liquidation",
            "LIQUIDATED ETHUSDT short: 4 closed at 2,760 (liq was 2,760), realized -1,120 USDT",
        )
    ]
    assert -1 not in order and order == sorted(order), out
    assert "riskwatch: 1 warning" in out
    assert "ENDED near-liquidation ETHUSDT short [was critical] (liquidated): last" in out
    assert "RESOLVED near-liquidation ETHUSDT" not in out
    assert "Traceback" not in err
    assert " INFO " not in err, "the demo logs at WARNING unless told: its console is the alerts"


def test_demo_feed_stream_alerts_between_ten_second_polls() -> None:
    """With a 10 s poll the warning (4 s into the path) can only come from a tick."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BITGET_", "NOTIFY_"))}
    done = subprocess.run(
        [sys.executable, "-m", "riskwatch", "demo", "--feed", "stream", "--duration", "7"],
        capture_output=True,
        text=True,
        env=env,
        timeout=40,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Feed: stream" in done.stdout
    price = done.stdout.find("price: BTCUSDT mark 97000")
    assert -1 < price < done.stdout.find("WARNING near-liquidation BTCUSDT long"), done.stdout
    assert "Traceback" not in done.stderr
