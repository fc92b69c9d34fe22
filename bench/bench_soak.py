"""Benchmark: the daemon's memory over 10,000 cycles and its CPU per idle cycle.

Drives ``Watcher.cycle()`` (built by ``riskwatch.service.wiring.wire``, delivery threads
running) back to back against 500 positions on the simulated exchange (its own process), nothing
changing between cycles: the steady state of a daemon watching a calm account, with 10 % of
positions in a firing alert that is not yet due to repeat. Samples VmRSS (``/proc/self/status``)
after the warm-up and at 1k, 5k and 10k cycles; CPU per cycle is the cycle thread's CPU time
(``time.thread_time``), i.e. riskwatch's own work, not the server's.

    python bench/bench_soak.py [--cycles 10000] [--positions 500]
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time

import benchlib

WARMUP = 200


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cycles", type=int, default=10_000)
    ap.add_argument("--positions", type=int, default=500)
    args = ap.parse_args()
    marks = sorted({m for m in (1000, 5000, 10_000, args.cycles) if m <= args.cycles})
    print(f"machine: {benchlib.machine()}")
    with benchlib.FakeServer(args.positions) as fake, tempfile.TemporaryDirectory() as tmp:
        wired = benchlib.build_watcher(fake.url, tmp)
        watcher = wired.watcher
        try:
            for _ in range(WARMUP):
                outcome = watcher.cycle()
                wired.hooks.delivered(outcome)
            gc.collect()
            base = benchlib.rss_kib()
            print(
                f"{args.positions} positions, {outcome.firing} alerts firing; "
                f"RSS after {WARMUP} warm-up cycles: {base / 1024:.1f} MiB"
            )
            cpu0, wall0 = time.thread_time(), time.perf_counter()
            done, errors = 0, 0
            for mark in marks:
                while done < mark:
                    outcome = watcher.cycle()
                    wired.hooks.delivered(outcome)
                    errors += outcome.error is not None
                    done += 1
                rss = benchlib.rss_kib()
                cpu, wall = time.thread_time() - cpu0, time.perf_counter() - wall0
                print(
                    f"  after {done:>6} cycles: RSS {rss / 1024:6.1f} MiB "
                    f"({(rss - base) / 1024:+.1f} MiB), CPU {cpu / done * 1000:.2f} ms/cycle, "
                    f"wall {wall / done * 1000:.2f} ms/cycle"
                )
            print(f"  failed polls: {errors}")
        finally:
            wired.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
