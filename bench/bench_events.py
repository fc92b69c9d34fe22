"""Benchmark: what events (DESIGN 10) cost a quiet cycle, and one with a liquidation.

A quiet cycle must stay cheap: ``EventTracker.observe`` compares the new snapshot with the
previous one (to notice a vanish or a shrink) and ``meta`` decides whether the positions seen
need rewriting; neither may read fills. Timed here on 500 and 10,000 positions, pure Python,
no I/O (the fills read itself is one HTTP request per symbol that changed).

    python bench/bench_events.py [--sizes 500,10000] [--rounds 50]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
from decimal import Decimal

from riskwatch.core import events
from riskwatch.model import Config, Position, Snapshot
from riskwatch.service.events import EventTracker

PT = "USDT-FUTURES"


def snapshot(n: int, t: float, *, mark: int = 100) -> Snapshot:
    positions = tuple(
        Position(
            PT,
            f"C{i}USDT",
            "long" if i % 2 else "short",
            "USDT",
            Decimal(1),
            Decimal(mark + i % 900),
            Decimal(50),
            Decimal(10),
        )
        for i in range(n)
    )
    return Snapshot(taken_at=t, positions=positions, fetched=frozenset({PT}))


def time_it(fn, rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples) * 1000


def measure(n: int, cfg: Config, rounds: int) -> tuple[float, float, float]:
    a, b = snapshot(n, 1.0), snapshot(n, 2.0, mark=101)  # marks moved, nothing went
    tracker = EventTracker()
    tracker.observe(a, cfg)
    tracker.meta(a)
    # Each poll brings freshly built positions: alternate two equal snapshots so every
    # observe compares new objects with the last ones, as a quiet cycle of the daemon does.
    polls = itertools.cycle([b, snapshot(n, 2.0, mark=101)])
    quiet_observe = time_it(lambda: tracker.observe(next(polls), cfg), rounds)
    quiet_meta = time_it(lambda: tracker.meta(b), rounds)
    gone = Snapshot(taken_at=3.0, positions=b.positions[1:], fetched=b.fetched)
    detect = time_it(lambda: events.detect(b, gone), rounds)
    return quiet_observe, quiet_meta, detect


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="500,10000")
    ap.add_argument("--rounds", type=int, default=50)
    args = ap.parse_args()
    cfg = Config(path="bench")
    for n in map(int, args.sizes.split(",")):
        quiet_observe, quiet_meta, detect = measure(n, cfg, args.rounds)
        print(
            f"{n:>6} positions: quiet observe {quiet_observe:6.2f} ms, quiet meta"
            f" {quiet_meta:6.2f} ms, detect one vanish {detect:6.2f} ms (median of {args.rounds})"
        )


if __name__ == "__main__":
    main()
