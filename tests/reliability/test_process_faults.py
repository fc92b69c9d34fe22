"""Process faults: the real daemon (``python -m riskwatch run``) is killed with SIGKILL at
random points across many cycles and restarted, while positions cross the threshold.

No alert may be lost (the state and outbox are committed in one transaction per cycle, and the
outbox survives a restart); a duplicate is possible only when a kill lands between a send and
its bookkeeping, so duplicates are bounded by the number of kills. The daemon's stderr (at
debug level) and the state dir never hold a secret.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time

import pytest

from riskwatch.delivery.fake import Receiver
from riskwatch.exchange.fake.server import FakeBitget

from .conftest import (
    CHANNEL_TOKEN,
    add_safe_positions,
    assert_no_secrets,
    creds_env,
    endanger,
    fired,
    rules_text,
    state_bytes,
    tally,
)

pytestmark = [pytest.mark.reliability, pytest.mark.slow]
KILLS = 8


def test_sigkill_at_random_points_loses_no_alert(tmp_path, ledger) -> None:
    rng = random.Random(20240607)
    with FakeBitget() as fx, Receiver() as rx:
        symbols = add_safe_positions(fx, 30)
        state_dir = tmp_path / "state"
        rules = tmp_path / "rules.yaml"
        url = rx.url_for(user="rw", password=CHANNEL_TOKEN)
        rules.write_text(rules_text(fx.url, str(state_dir), url, poll="1s"))
        env = creds_env()
        argv = [sys.executable, "-m", "riskwatch", "--log-level", "debug", "run", "-c", str(rules)]
        logs: list[bytes] = []
        targets: list[str] = []

        def start(i: int) -> tuple[subprocess.Popen, object]:
            err = open(tmp_path / f"stderr{i}.log", "wb")  # noqa: SIM115
            proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=err)
            return proc, err

        for i in range(KILLS):
            proc, err = start(i)
            try:
                time.sleep(rng.uniform(0.2, 1.8))
                symbol = symbols[i * 3]
                endanger(fx, symbol)
                targets.append(symbol)
                time.sleep(rng.uniform(0.0, 1.6))
            finally:
                proc.kill()
                out, _ = proc.communicate(timeout=10)
                err.close()
            assert proc.returncode == -signal.SIGKILL
            logs.append(out)
        proc, err = start(KILLS)
        try:
            deadline = time.monotonic() + 25
            while time.monotonic() < deadline:
                if all(fired(rx.bodies(), s) for s in targets):
                    break
                time.sleep(0.1)
            time.sleep(1.2)  # one more cycle: nothing further may arrive
        finally:
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=15)
            err.close()
        logs.append(out)
        assert proc.returncode == 0, "the daemon must exit 0 on SIGTERM"
        logs += [(tmp_path / f"stderr{i}.log").read_bytes() for i in range(KILLS + 1)]

    row = tally(ledger, "process", rx.bodies(), targets, faults=KILLS)
    assert row.lost == 0, f"lost alerts: {row.lost} of {row.expected}"
    assert row.duplicated <= KILLS, "duplicates must be bounded by the kills"
    assert not any(fired(rx.bodies(), s) for s in symbols if s not in targets)
    assert b"Traceback" not in b"".join(logs)
    assert_no_secrets(logs, "the daemon's stdout/stderr")
    assert_no_secrets(state_bytes(state_dir), "the state dir")
