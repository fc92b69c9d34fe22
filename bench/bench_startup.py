"""Benchmark: startup, from spawning ``riskwatch run`` to its first poll.

The simulated exchange notes when each request arrives; the first poll is the first request
for positions (``all-position``; a clock-sync ``public/time`` request may precede it, and is
counted as part of startup). The daemon is started with a real apprise URL (``json://`` to a
local receiver) so the figure shows apprise is not on the startup path (it is imported when the
first message is sent, after the poll). Also timed: ``run --once --dry-run`` to its first
poll and to exit.

    python bench/bench_startup.py [--runs 10]
"""

from __future__ import annotations

import argparse
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import benchlib

from riskwatch.delivery.fake import Receiver
from riskwatch.exchange.fake.server import FakeBitget


class Stamped:
    """Wraps the fake's request log: the arrival time (perf_counter) of each path."""

    def __init__(self, fx: FakeBitget) -> None:
        self.events: list[tuple[float, str]] = []
        self.cond = threading.Condition()
        inner = fx.log

        def log(path: str, query: str, status: int) -> None:
            with self.cond:
                self.events.append((time.perf_counter(), path))
                self.cond.notify_all()
            inner(path, query, status)

        fx.log = log  # type: ignore[method-assign]

    def first(self, suffix: str, after: float, timeout: float = 30.0) -> float:
        def found() -> float | None:
            return next((t for t, p in self.events if t > after and p.endswith(suffix)), None)

        with self.cond:
            self.cond.wait_for(lambda: found() is not None, timeout)
            t = found()
        if t is None:
            raise TimeoutError(f"no {suffix} request within {timeout}s")
        return t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--positions", type=int, default=500)
    args = ap.parse_args()
    env = benchlib.creds_env()
    daemon_first: list[float] = []
    once_first: list[float] = []
    once_exit: list[float] = []
    with FakeBitget() as fx, Receiver() as rx, tempfile.TemporaryDirectory() as tmp:
        benchlib.populate(fx, args.positions)
        stamps = Stamped(fx)
        rules = Path(tmp) / "rules.yaml"
        rules.write_text(
            benchlib.rules_yaml(base_url=fx.url, state_dir=str(Path(tmp) / "state"), urls=[rx.url])
        )
        daemon = [benchlib.PYTHON, "-m", "riskwatch", "run", "-c", str(rules)]
        once = [*daemon[:-2], "--once", "--dry-run", "-c", str(rules)]
        for i in range(args.runs + 1):  # run 0 warms the page cache, not counted
            t0 = time.perf_counter()
            proc = subprocess.Popen(
                daemon,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                cwd=benchlib.ROOT,
            )
            t1 = stamps.first("/all-position", t0)
            proc.send_signal(signal.SIGTERM)
            proc.wait(10)
            t2 = time.perf_counter()
            run = benchlib.run_child(once, env=env)
            t3 = stamps.first("/all-position", t2)
            if i:
                daemon_first.append(t1 - t0)
                once_first.append(t3 - t2)
                once_exit.append(run.wall)
    print(f"machine: {benchlib.machine()}")
    print(f"{args.positions} positions, {args.runs} runs each")
    print(f"  run (daemon) spawn -> first poll : {benchlib.summary(daemon_first)}")
    print(f"  run --once --dry-run -> first poll: {benchlib.summary(once_first)}")
    print(f"  run --once --dry-run -> exit      : {benchlib.summary(once_exit)}")
    print(f"  median daemon startup {statistics.median(daemon_first) * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
