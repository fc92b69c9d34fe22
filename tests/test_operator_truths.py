"""Operator truths as processes: a broken file at boot, two daemons, an interrupted command.

Real daemons against the simulated exchange and a real receiver, as in test_daemon_process;
waits are bounded polls for an expected arrival, never timing asserts.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from riskwatch.config import lastgood
from riskwatch.delivery.fake import Receiver
from riskwatch.exchange.fake.server import FakeBitget
from tests.test_daemon_process import arrived, wait_polls, wait_resolved

pytestmark = pytest.mark.slow

RULES = """\
exchange:
  api: v2
  base_url: {url}
  fallback_url: null
  poll_interval: 1s
  stale_after: 1h
  timeout: 2s
state_dir: {state}
channels:
  rx: ["${{RX_URL}}"]
defaults:
  channels: [rx]
  repeat: 1h
rules:
  - name: near-liquidation
    metric: liq_gap_pct
    op: "<"
    warning: 8
    critical: 4
"""
BROKEN = 'op: "=<"'


@dataclass
class World:
    fake: FakeBitget
    rx: Receiver
    rules: Path
    state: Path
    env: dict[str, str]
    log: Path
    procs: list[subprocess.Popen]

    def write(self, broken: bool = False) -> None:
        text = RULES.format(url=self.fake.url, state=self.state)
        self.rules.write_text(text.replace('op: "<"', BROKEN) if broken else text)

    def start(self, *args: str) -> subprocess.Popen:
        cmd = [sys.executable, "-m", "riskwatch", *(args or ("run",)), "-c", str(self.rules)]
        proc = subprocess.Popen(
            cmd, env=self.env, stdout=subprocess.DEVNULL, stderr=self.log.open("w")
        )
        self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen) -> int:
        proc.send_signal(signal.SIGTERM)
        return proc.wait(timeout=8)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with FakeBitget() as fake, Receiver() as rx:
        fake.add_position("BTCUSDT", "long", mark="100000", liquidation="90000", total="0.1")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BITGET_", "NOTIFY_"))}
        env.update(FakeBitget.credentials_env(), RX_URL=rx.url)
        w = World(fake, rx, tmp_path / "rules.yaml", tmp_path / "state", env, tmp_path / "err", [])
        w.write()
        yield w
        for p in w.procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def test_a_broken_file_at_boot_runs_on_the_last_good_copy(world: World) -> None:
    proc = world.start()
    wait_polls(world.fake, 1)
    assert world.stop(proc) == 0
    copy = (world.state / lastgood.FILENAME).read_text()
    assert "${RX_URL}" in copy and world.rx.url not in copy  # as written: no secret
    world.write(broken=True)
    proc = world.start()
    body = arrived(world.rx, "riskwatch-config")
    assert f"{world.rules}:" in body and "op" in body  # FILE:LINE of the problem
    world.fake.set_mark("BTCUSDT", "93000")  # gap 3.2 %: critical under the copy's rules
    assert "CRITICAL" in arrived(world.rx, "near-liquidation")
    world.write()
    wait_resolved(world.rx, "riskwatch-config")
    assert proc.poll() is None
    assert world.stop(proc) == 0
    assert "Traceback" not in world.log.read_text()


def test_a_broken_file_and_no_copy_holds_tells_every_channel_and_starts_once_fixed(
    world: World,
) -> None:
    world.write(broken=True)
    proc = world.start()
    body = arrived(world.rx, "NOT watching")
    assert f"{world.rules}:" in body and "riskwatch-config" in body
    assert proc.poll() is None  # up, not restarting: the same process starts watching below
    assert not any("all-position" in r.path for r in world.fake.requests)
    world.write()
    arrived(world.rx, "resolved: riskwatch-config")
    wait_polls(world.fake, 1)  # it watches now
    assert (world.state / lastgood.FILENAME).exists()
    assert world.stop(proc) == 0


def test_a_second_daemon_on_the_same_state_dir_exits_1_naming_the_first(world: World) -> None:
    first = world.start()
    wait_polls(world.fake, 1)
    second = world.start()
    assert second.wait(timeout=15) == 1
    lines = world.log.read_text().strip().splitlines()
    assert len(lines) == 1 and f"pid {first.pid}" in lines[0], lines
    assert first.poll() is None
    assert world.stop(first) == 0


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_command_says_so_and_exits_130_or_143(
    world: World, sig: signal.Signals, code: int
) -> None:
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        world.rules.write_text(world.rules.read_text().replace(world.fake.url, url))
        proc = world.start("positions")
        silent.settimeout(20)
        conn, _ = silent.accept()  # the command is inside its first request now
        with conn:
            proc.send_signal(sig)
            assert proc.wait(timeout=10) == code
    assert world.log.read_text().strip().splitlines()[-1] == "interrupted"


def test_an_unreachable_exchange_is_one_line_naming_the_cause(world: World) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    world.rules.write_text(
        world.rules.read_text().replace(world.fake.url, f"http://127.0.0.1:{port}")
    )
    assert world.start("positions").wait(timeout=30) == 4
    lines = world.log.read_text().strip().splitlines()
    assert len(lines) == 1 and f"connection refused by 127.0.0.1:{port}" in lines[0], lines


def test_a_url_apprise_cannot_use_at_start_raises_the_config_alert(world: World) -> None:
    proc = world.start()
    wait_polls(world.fake, 1)
    assert world.stop(proc) == 0  # a good copy is kept
    text = world.rules.read_text().replace(
        '  rx: ["${RX_URL}"]', '  rx: ["${RX_URL}"]\n  bad: ["${BAD_URL}"]'
    )
    world.rules.write_text(text)
    world.env["BAD_URL"] = "bogus://nowhere/at/all"
    proc = world.start()
    body = arrived(world.rx, "riskwatch-config")
    assert "channels.bad[0]: this URL is not usable by apprise" in body
    assert "bogus://" not in body
    assert "running on the last good copy" in world.log.read_text()
    assert world.stop(proc) == 0
