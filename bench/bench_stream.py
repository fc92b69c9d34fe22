"""Benchmark: alert latency with ``feed: stream`` and a 10 s poll, and CPU per 1,000 ticks.

The real daemon (``python -m riskwatch run -c FILE``, a subprocess) watches 100 positions (10 %
already firing) of the simulated exchange with ``poll_interval: 10s`` and ``feed: stream``, the
simulator serving both WebSockets (``riskwatch.exchange.fake.ws``). Each trial waits a uniform
0-0.5 s, moves a fresh position's mark past the warning threshold and times until the local
receiver (apprise ``json://``) accepts the message naming it. With a 10 s poll a polled alert
would wait 5 s on average; target p95 <= 250 ms (issue floor 500 ms).

CPU per 1,000 ticks: the daemon's user+system CPU (``/proc/PID/stat``) while the simulator
moves quiet marks (no threshold crossed) as fast as it can push, minus the same idle span,
per 1,000 ticks received.

    python bench/bench_stream.py [--trials 50]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import benchlib
from bench_latency import latencies

from riskwatch.delivery.fake import Receiver
from riskwatch.exchange.fake.server import FakeBitget
from riskwatch.exchange.fake.ws import FakeBitgetWS

TARGET_P95 = 0.25
TICKS = 1000


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tick_cost(fx: FakeBitget, ws: FakeBitgetWS, pid: int, symbol: str) -> tuple[float, float]:
    """CPU seconds of the daemon per 1,000 ticks, and the tick rate pushed (ticks/s)."""
    side = benchlib.side_of(symbol)
    base = fx.book.positions[("USDT-FUTURES", symbol, side)].mark
    idle0 = cpu_seconds(pid)
    time.sleep(2.0)
    idle = cpu_seconds(pid) - idle0
    pushed0, c0, t0 = ws.ticks_pushed, cpu_seconds(pid), time.monotonic()
    for i in range(TICKS):  # +-0.5 %: far from any threshold
        fx.set_mark(symbol, base * (1 + Decimal((i % 11) - 5) / 1000))
        time.sleep(0.002)
    while ws.ticks_pushed - pushed0 < TICKS and time.monotonic() - t0 < 30:
        time.sleep(0.01)
    time.sleep(0.5)  # the last evaluation
    span = time.monotonic() - t0
    used = cpu_seconds(pid) - c0 - idle * span / 2.0
    return used * 1000 / max(1, ws.ticks_pushed - pushed0), TICKS / span


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=50)
    ap.add_argument("--positions", type=int, default=100)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    with (
        FakeBitget() as fx,
        FakeBitgetWS(fx) as ws,
        Receiver() as rx,
        tempfile.TemporaryDirectory() as tmp,
    ):
        safe = benchlib.populate(fx, args.positions)
        rng.shuffle(safe)
        if len(safe) < args.trials + 2:
            raise SystemExit("not enough quiet positions for the trials: raise --positions")
        rules = Path(tmp) / "rules.yaml"
        text = benchlib.rules_yaml(
            base_url=fx.url,
            state_dir=str(Path(tmp) / "state"),
            urls=[rx.url],
            poll_interval="10s",
            send_resolved=False,
        )
        stream = (
            f"  feed: stream\n  ws_public_url: {ws.url('public')}\n"
            f"  ws_private_url: {ws.url('private')}\n"
        )
        rules.write_text(text.replace("  poll_interval: 10s\n", "  poll_interval: 10s\n" + stream))
        daemon = subprocess.Popen(
            [benchlib.PYTHON, "-m", "riskwatch", "run", "-c", str(rules)],
            env=benchlib.creds_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=benchlib.ROOT,
        )
        try:
            if not rx.wait_for(1, timeout=20):  # the first cycle reports the firing 10 %
                raise SystemExit("the daemon sent nothing within 20 s")
            deadline = time.monotonic() + 10
            while len(ws.subscribed()) < args.positions and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(1.0)
            lat = latencies(fx, rx, safe[: args.trials + 1], rng, max_pause=0.5, timeout=15)
            per_k, rate = tick_cost(fx, ws, daemon.pid, safe[args.trials + 1])
        finally:
            benchlib.stop_daemon(daemon)
    print(f"machine: {benchlib.machine()}")
    print(f"{args.positions} positions, poll_interval 10s, feed stream, {len(lat)} trials (+1)")
    met = benchlib.report_latency(lat, TARGET_P95, daemon.returncode)
    print(f"  CPU per 1,000 ticks: {per_k * 1000:.0f} ms (ticks pushed at {rate:.0f}/s)")
    return 0 if met and daemon.returncode == 0 else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
