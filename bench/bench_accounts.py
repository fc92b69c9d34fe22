"""Benchmark: many accounts in one daemon (DESIGN 14): 100 accounts x 20 positions, 10 s poll.

One simulated Bitget (its own process, so its CPU and memory are not counted) serves a key per
account, each with its own book of 20 USDT-FUTURES positions, 2 of them (10 %) in a firing
warning. riskwatch is built by the production wiring (``riskwatch.service.wiring.wire``) from a
rules file with ``accounts:`` naming the 100 prefixes: a client, rate limiter and clock sync
per account, the polls on the bounded thread pool, one engine pass over all snapshots, the
store. Cycles run back to back after a warm-up; the figures are the process CPU time per cycle
(``time.process_time``: the loop, the pool's threads and the delivery workers) against the
10 s poll interval (the target: under 10 % of one core, i.e. under 1 s of CPU per cycle), the
wall time of a cycle, and the resident memory (VmRSS) after the warm-up and at the end (target
under 80 MiB).

    python bench/bench_accounts.py [--accounts 100] [--positions 20] [--cycles 30]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import benchlib

POLL = 10.0  # seconds: the poll interval the CPU share is judged against


def _serve(accounts: int, positions: int) -> None:
    """The simulator: account 0 is the host's own key, the rest ``add_account``; prints the
    URL and the credentials' environment as one JSON line, then serves until stdin closes."""
    from riskwatch.exchange.fake.server import FakeBitget

    with FakeBitget() as fx:
        env: dict[str, str] = {}
        for i in range(accounts):
            book = fx if i == 0 else fx.add_account(f"acct-{i:03d}")
            benchlib.populate(book, positions)
            env.update(book.env(f"BITGET_ACCT{i:03d}"))
        print(json.dumps({"url": fx.url, "env": env}), flush=True)
        sys.stdin.read()


def rules(url: str, state_dir: str, accounts: int) -> str:
    head = benchlib.rules_yaml(base_url=url, state_dir=state_dir)
    listed = "".join(
        f"  - {{name: acct-{i:03d}, credentials: BITGET_ACCT{i:03d}}}\n" for i in range(accounts)
    )
    return head + "accounts:\n" + listed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accounts", type=int, default=100)
    ap.add_argument("--positions", type=int, default=20)
    ap.add_argument("--cycles", type=int, default=30)
    args = ap.parse_args()
    print(f"machine: {benchlib.machine()}")
    server = subprocess.Popen(
        [sys.executable, __file__, "serve", str(args.accounts), str(args.positions)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=benchlib.ROOT,
    )
    assert server.stdout is not None and server.stdin is not None
    started = json.loads(server.stdout.readline())
    try:
        with tempfile.TemporaryDirectory() as tmp:
            run(started["url"], started["env"], tmp, args)
    finally:
        server.stdin.close()
        server.wait(30)
    return 0


def run(url: str, keys: dict[str, str], tmp: str, args: argparse.Namespace) -> None:
    from riskwatch.config import load as config
    from riskwatch.service.wiring import wire

    path = Path(tmp) / "rules.yaml"
    path.write_text(rules(url, str(Path(tmp) / "state"), args.accounts))
    env = benchlib.creds_env(keys)
    cfg = config.load(str(path), environ=env)
    sink = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the watcher
    wired = wire(cfg, environ=env, out=sink)  # the production settings: rate limiters on
    watcher = wired.watcher
    try:
        for _ in range(3):  # warm-up: the first cycle fires and queues the alerts
            outcome = watcher.cycle()
            wired.hooks.delivered(outcome)
        assert not outcome.errors, outcome.errors
        gc.collect()
        base = benchlib.rss_kib()
        print(
            f"{args.accounts} accounts x {args.positions} positions, {outcome.firing} alerts "
            f"firing; RSS after warm-up {base / 1024:.1f} MiB"
        )
        cpu, wall = [], []
        for _ in range(args.cycles):
            c0, w0 = time.process_time(), time.perf_counter()
            outcome = watcher.cycle()
            wired.hooks.delivered(outcome)
            cpu.append(time.process_time() - c0)
            wall.append(time.perf_counter() - w0)
            assert len(outcome.snapshots) == args.accounts, outcome.errors
        rss = benchlib.rss_kib()
    finally:
        wired.close()
    share = sorted(cpu)[len(cpu) // 2] / POLL * 100
    print(f"  CPU per cycle:  {benchlib.summary(cpu)}  ({share:.1f} % of one core at a 10 s poll)")
    print(f"  wall per cycle: {benchlib.summary(wall)}")
    print(f"  RSS at the end: {rss / 1024:.1f} MiB ({(rss - base) / 1024:+.1f} MiB)")


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        _serve(int(sys.argv[2]), int(sys.argv[3]))
    else:
        raise SystemExit(main())
