"""The daemon as a process: real HTTP to the simulated exchange, real apprise to a receiver.

Each test starts ``python -m riskwatch run`` in a subprocess with a 1 s poll and watches what
reaches the receiver. Waits are bounded polls for an expected arrival, never timing asserts.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from riskwatch.delivery.fake import Receiver
from riskwatch.exchange.fake.server import FakeBitget

pytestmark = pytest.mark.slow

RULES = """\
exchange:
  api: v2
  base_url: {url}
  fallback_url: {url}
  poll_interval: 1s
  stale_after: {stale}
  timeout: 2s
state_dir: {state}
channels:
  rx: ["{rx}"]
defaults:
  channels: [rx]
  repeat: 1h
rules:
  - name: near-liquidation
    metric: liq_gap_pct
    op: "<"
    warning: 8
    critical: 4
    hysteresis: 1
"""


@dataclass
class Setup:
    fake: FakeBitget
    rx: Receiver
    rules: Path
    state: Path
    env: dict[str, str]
    log: Path

    def write_rules(self, stale: str = "1h", extra: str = "") -> None:
        text = RULES.format(url=self.fake.url, rx=self.rx.url, state=self.state, stale=stale)
        self.rules.write_text(text + extra)

    def start(self) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "riskwatch", "run", "-c", str(self.rules)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("a"),
        )

    def stderr(self) -> str:
        return self.log.read_text()


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    with FakeBitget() as fake, Receiver() as rx:
        fake.add_position("BTCUSDT", "long", mark="100000", liquidation="90000", total="0.1")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BITGET_", "NOTIFY_"))}
        env.update(FakeBitget.credentials_env())
        s = Setup(fake, rx, tmp_path / "rules.yaml", tmp_path / "state", env, tmp_path / "err")
        s.write_rules()
        yield s


@pytest.fixture
def daemon(setup: Setup) -> Iterator[Callable[[], subprocess.Popen]]:
    procs: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        procs.append(setup.start())
        return procs[-1]

    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()


def arrived(rx: Receiver, needle: str, timeout: float = 15.0) -> str:
    """The first received body containing ``needle``, waiting up to ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for body in rx.bodies():
            if needle in body:
                return body
        time.sleep(0.05)
    raise AssertionError(f"no message containing {needle!r}; got {rx.bodies()!r}")


def wait_resolved(rx: Receiver, name: str, timeout: float = 20.0) -> None:
    """Wait for a line that resolves ``name`` (the name and "resolved" on one line)."""
    deadline = time.monotonic() + timeout
    while not any(
        name in line and "resolved" in line.lower() for b in rx.bodies() for line in b.splitlines()
    ):
        assert time.monotonic() < deadline, rx.bodies()
        time.sleep(0.05)


def count(rx: Receiver, needle: str) -> int:
    return sum(needle in b for b in rx.bodies())


def polls(fake: FakeBitget) -> int:
    return sum("all-position" in r.path for r in fake.requests)


def wait_polls(fake: FakeBitget, n: int, timeout: float = 15.0) -> None:
    target = polls(fake) + n
    deadline = time.monotonic() + timeout
    while polls(fake) < target:
        assert time.monotonic() < deadline, "the daemon stopped polling"
        time.sleep(0.05)


def test_fires_resolves_and_exits_0_on_sigterm(setup: Setup, daemon) -> None:
    proc = daemon()
    wait_polls(setup.fake, 1)
    setup.fake.set_mark("BTCUSDT", "96000")  # gap 6.25 %: warning
    body = arrived(setup.rx, "near-liquidation")
    assert "WARNING" in body and "BTCUSDT" in body and "long" in body
    setup.fake.set_mark("BTCUSDT", "95000")  # gap 5.3 %: inside the band, still warning
    setup.fake.set_mark("BTCUSDT", "100000")  # gap 10 %: resolved (>= 8 + 1)
    assert "near-liquidation" in arrived(setup.rx, "RESOLVED")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=6) == 0
    assert "Traceback" not in setup.stderr()


def test_a_broken_edit_is_announced_and_the_last_good_rules_keep_working(
    setup: Setup, daemon
) -> None:
    proc = daemon()
    wait_polls(setup.fake, 1)
    good = setup.rules.read_text()
    setup.rules.write_text(good.replace('op: "<"', 'op: "=<"'))
    body = arrived(setup.rx, "riskwatch-config")
    assert f"{setup.rules}:" in body and "op" in body
    setup.fake.set_mark("BTCUSDT", "93000")  # gap 3.2 %: critical under the last good rules
    assert "CRITICAL" in arrived(setup.rx, "near-liquidation")
    assert proc.poll() is None, "a broken edit must not stop the daemon"
    setup.rules.write_text(good)
    wait_resolved(setup.rx, "riskwatch-config")
    assert "Traceback" not in setup.stderr()


def test_kill_9_and_restart_sends_no_repeat_before_it_is_due(setup: Setup, daemon) -> None:
    proc = daemon()
    setup.fake.set_mark("BTCUSDT", "96000")
    arrived(setup.rx, "near-liquidation")
    wait_polls(setup.fake, 1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    daemon()
    wait_polls(setup.fake, 4)
    assert count(setup.rx, "near-liquidation") == 1, setup.rx.bodies()


def test_sigterm_ends_a_retry_backoff_at_once(setup: Setup, daemon) -> None:
    setup.fake.inject("5xx", status=503)  # every poll retries with backoff for its budget
    proc = daemon()
    deadline = time.monotonic() + 15
    while len(setup.fake.requests) < 2:  # the first request failed: it is in a backoff now
        assert time.monotonic() < deadline, "the daemon sent nothing"
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=6) == 0
    err = setup.stderr()
    assert "stopped" in err and "in the middle of a cycle" not in err, err


def test_stale_when_the_exchange_fails_and_resolved_when_it_is_back(setup: Setup, daemon) -> None:
    setup.write_rules(stale="3s")
    daemon()
    wait_polls(setup.fake, 1)
    setup.fake.inject("5xx", status=503)
    assert "CRITICAL" in arrived(setup.rx, "riskwatch-stale", timeout=25)
    setup.fake.clear_faults()
    wait_resolved(setup.rx, "riskwatch-stale")


def test_a_refused_key_raises_the_auth_alert_and_keeps_running(setup: Setup, daemon) -> None:
    setup.env["BITGET_API_PASSPHRASE"] = "wrong_passphrase_1234"
    proc = daemon()
    body = arrived(setup.rx, "riskwatch-auth")
    assert "passphrase" in body.lower()
    assert proc.poll() is None
    text = setup.stderr() + "".join(setup.rx.bodies())
    for secret in (FakeBitget.API_SECRET, "wrong_passphrase_1234", FakeBitget.API_KEY):
        assert secret not in text
