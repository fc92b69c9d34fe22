"""Benchmark: one full watch cycle with 500 and 10,000 positions.

A cycle is what the daemon does every ``poll_interval``: fetch positions and accounts over
loopback HTTP from the simulated exchange (signing, JSON, normalisation), evaluate the rules,
render, and persist the alert state and outbox to SQLite. It is ``Watcher.cycle()`` as built by
``riskwatch.service.wiring.wire`` from a rules file, timed at steady state (after a warm-up)
with 10 % of the positions in a firing alert (DESIGN 8 "Benchmarks"). The simulated exchange
runs in its own process, and the client-side rate limiter is off.

The "storm" figure is the same cycle when every firing alert has a line to say (``repeat``
due every cycle: the clock advances past it between cycles), so it includes rendering those
lines (words, time stamps, action hints), one INFO log line each (to /dev/null), their history
rows, the outbox message and the history pruning, all in the cycle's transaction.

    python bench/bench_cycle.py [--sizes 500,10000] [--cycles 30]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time

import benchlib


def bench(n: int, cycles: int) -> dict[str, list[float]]:
    with benchlib.FakeServer(n) as fake, tempfile.TemporaryDirectory() as tmp:
        wired = benchlib.build_watcher(fake.url, tmp)
        watcher = wired.watcher
        try:
            for _ in range(3):  # warm-up: the first cycle fires ~n/10 alerts and queues them
                outcome = watcher.cycle()
                assert outcome.error is None, outcome.error
            firing = outcome.firing
            out: dict[str, list[float]] = {"cycle": [], "fetch": []}
            for _ in range(cycles):
                t0 = time.perf_counter()
                outcome = watcher.cycle()
                out["cycle"].append(time.perf_counter() - t0)
                assert outcome.error is None and len(outcome.snapshot.positions) == n
            for _ in range(cycles):
                t0 = time.perf_counter()
                watcher.client.fetch_snapshot()
                out["fetch"].append(time.perf_counter() - t0)
            print(f"{n} positions, {firing} alerts firing, {cycles} timed cycles")
        finally:
            wired.close()
    return out


def storm(n: int, cycles: int) -> tuple[list[float], int]:
    """Cycles in which every firing alert repeats: (durations, lines per cycle)."""
    log = logging.getLogger("riskwatch")
    handler = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    now = [time.time()]
    with benchlib.FakeServer(n) as fake, tempfile.TemporaryDirectory() as tmp:
        wired = benchlib.build_watcher(fake.url, tmp, clock=lambda: now[0], repeat="1s")
        try:
            for _ in range(3):
                now[0] += 2.0
                wired.watcher.cycle()
            out, said = [], 0
            for _ in range(cycles):
                now[0] += 2.0
                t0 = time.perf_counter()
                outcome = wired.watcher.cycle()
                out.append(time.perf_counter() - t0)
                said = len(outcome.transitions)
        finally:
            wired.close()
            log.removeHandler(handler)
            log.setLevel(logging.NOTSET)
    return out, said


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="500,10000")
    ap.add_argument("--cycles", type=int, default=30)
    args = ap.parse_args()
    print(f"machine: {benchlib.machine()}")
    for n in (int(s) for s in args.sizes.split(",")):
        res = bench(n, args.cycles if n <= 1000 else max(5, args.cycles // 3))
        print(f"  full cycle   : {benchlib.summary(res['cycle'])}")
        print(
            f"  of which fetch (HTTP + normalise): median "
            f"{statistics.median(res['fetch']) * 1000:.1f} ms"
        )
        times, said = storm(n, args.cycles if n <= 1000 else max(5, args.cycles // 3))
        print(f"  storm cycle ({said} lines rendered, logged, kept): {benchlib.summary(times)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
