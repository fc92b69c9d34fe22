"""Benchmark: end-to-end alert latency of the real daemon.

From the moment the simulated exchange moves a position past the warning threshold to the
moment the local receiver accepts the notification. The daemon is the real thing
(``python -m riskwatch run -c FILE``, a subprocess) with ``poll_interval: 1s`` watching 500
positions (10 % already firing); notifications go through apprise (``json://``) to
``riskwatch.delivery.fake.Receiver``. Each trial waits a uniformly random time (0-1 s) before moving
a fresh position, so the trials sample every phase of the poll cycle: the expected latency is
about half a poll interval plus the per-cycle overhead and delivery; target p95 <= 1.2 s.

    python bench/bench_latency.py [--trials 50]
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

from riskwatch.delivery.fake import Receiver
from riskwatch.exchange.fake.server import FakeBitget

TARGET_P95 = 1.2


def move_past_threshold(fx: FakeBitget, symbol: str, gap_pct: float = 10.0) -> None:
    """Set ``symbol``'s mark ``gap_pct`` % from its liquidation price (warning is < 15 %)."""
    side = benchlib.side_of(symbol)
    liq = fx.book.positions[("USDT-FUTURES", symbol, side)].liq()
    k = Decimal(str(gap_pct)) / 100
    mark = liq / (1 - k) if side == "long" else liq / (1 + k)
    fx.set_mark(symbol, mark.quantize(Decimal("0.0001")))


def wait_for_symbol(rx: Receiver, symbol: str, seen: int, timeout: float) -> tuple[float, int]:
    """Block until a new message naming ``symbol`` arrives; its arrival time and the count."""
    end = time.monotonic() + timeout
    while True:
        if not rx.wait_for(seen + 1, timeout=max(0.0, end - time.monotonic())):
            raise TimeoutError(f"no notification for {symbol} within {timeout}s")
        now = time.monotonic()
        got = rx.received
        for r in got[seen:]:
            if f" {symbol} " in f" {r.body} ".replace("\n", " "):
                return now, len(got)
        seen = len(got)


def latencies(
    fx: FakeBitget,
    rx: Receiver,
    symbols: list[str],
    rng: random.Random,
    *,
    max_pause: float,
    timeout: float,
) -> list[float]:
    """One trial per symbol: pause a random 0..``max_pause`` s, move it past the threshold and
    time until the receiver has its message. The first trial is a warm-up, not counted."""
    seen = len(rx.received)
    lat: list[float] = []
    for i, symbol in enumerate(symbols):
        time.sleep(rng.uniform(0.0, max_pause))
        t0 = time.monotonic()
        move_past_threshold(fx, symbol)
        t1, seen = wait_for_symbol(rx, symbol, seen, timeout=timeout)
        if i:
            lat.append(t1 - t0)
    return lat


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=50)
    ap.add_argument("--positions", type=int, default=500)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    with (
        FakeBitget() as fx,
        Receiver() as rx,
        tempfile.TemporaryDirectory() as tmp,
    ):
        safe = benchlib.populate(fx, args.positions)
        rng.shuffle(safe)
        rules = Path(tmp) / "rules.yaml"
        rules.write_text(
            benchlib.rules_yaml(
                base_url=fx.url,
                state_dir=str(Path(tmp) / "state"),
                urls=[rx.url],
                poll_interval="1s",
                send_resolved=False,
            )
        )
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
            time.sleep(1.5)
            lat = latencies(fx, rx, safe[: args.trials + 1], rng, max_pause=1.0, timeout=10)
        finally:
            benchlib.stop_daemon(daemon)
    print(f"machine: {benchlib.machine()}")
    print(f"{args.positions} positions, poll_interval 1s, {len(lat)} trials (+1 warm-up)")
    met = benchlib.report_latency(lat, TARGET_P95, daemon.returncode)
    return 0 if met and daemon.returncode == 0 else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
