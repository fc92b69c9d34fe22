"""riskwatch ``run --once --dry-run`` versus the ccxt cron script, side by side.

Both fetch the same 500 positions from the simulated exchange (one server, started here), both
compute every position's liquidation gap and print those under 15 %. The two are alternated
(ABAB...) as fresh processes, so machine noise hits both alike; each child is reaped with
``os.wait4`` for its own wall time (spawn to exit) and peak RSS. Targets (issue 7): riskwatch at
most 0.5x the wall time and 0.7x the peak memory of the ccxt script.

    python bench/bench_vs_ccxt.py [--rounds 10] [--ccxt-python /work/ccxt-venv/bin/python]

The ccxt interpreter defaults to ``$CCXT_PYTHON``, else ``/work/ccxt-venv/bin/python``; make
one with ``python3 -m venv /work/ccxt-venv && /work/ccxt-venv/bin/pip install ccxt``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

import benchlib  # bench/ is on sys.path: the script's own directory

TARGET_WALL, TARGET_RSS = 0.5, 0.7


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--positions", type=int, default=500)
    ap.add_argument(
        "--ccxt-python", default=os.environ.get("CCXT_PYTHON", "/work/ccxt-venv/bin/python")
    )
    args = ap.parse_args()

    with benchlib.FakeServer(args.positions) as fake, tempfile.TemporaryDirectory() as tmp:
        rules = Path(tmp) / "rules.yaml"
        rules.write_text(benchlib.rules_yaml(base_url=fake.url, state_dir=str(Path(tmp) / "state")))
        env = benchlib.creds_env()
        rw = [benchlib.PYTHON, "-m", "riskwatch", "run", "--once", "--dry-run", "-c", str(rules)]
        cx = [
            args.ccxt_python,
            str(benchlib.ROOT / "bench" / "ccxt_peer.py"),
            "--base-url",
            fake.url,
            "--threshold",
            "15",
        ]
        # One untimed run of each: warms the page cache (and .pyc files) for both alike.
        for argv in (rw, cx):
            first = benchlib.run_child(argv, env=env)
            _check(argv, first)
        runs: dict[str, list[benchlib.ChildRun]] = {"riskwatch": [], "ccxt": []}
        for _ in range(args.rounds):
            for name, argv in (("riskwatch", rw), ("ccxt", cx)):
                run = benchlib.run_child(argv, env=env)
                _check(argv, run)
                runs[name].append(run)

    print(f"machine: {benchlib.machine()}")
    print(f"{args.positions} positions, {args.rounds} interleaved rounds, fresh processes")
    med: dict[str, tuple[float, float, float]] = {}
    for name, rs in runs.items():
        wall = statistics.median(r.wall for r in rs)
        rss = statistics.median(r.maxrss_kib for r in rs) / 1024
        cpu = statistics.median(r.cpu for r in rs)
        med[name] = (wall, rss, cpu)
        print(
            f"{name:<10} wall median {wall * 1000:7.1f} ms "
            f"(min {min(r.wall for r in rs) * 1000:.1f})  peak RSS median {rss:6.1f} MiB  "
            f"CPU {cpu * 1000:7.1f} ms"
        )
    wall_ratio = med["riskwatch"][0] / med["ccxt"][0]
    rss_ratio = med["riskwatch"][1] / med["ccxt"][1]
    ok_wall, ok_rss = wall_ratio <= TARGET_WALL, rss_ratio <= TARGET_RSS
    print(
        f"ratio wall time  riskwatch/ccxt = {wall_ratio:.2f} (target <= {TARGET_WALL}) "
        f"{'OK' if ok_wall else 'MISSED'}"
    )
    print(
        f"ratio peak RSS   riskwatch/ccxt = {rss_ratio:.2f} (target <= {TARGET_RSS}) "
        f"{'OK' if ok_rss else 'MISSED'}"
    )
    return 0 if ok_wall and ok_rss else 1


def _check(argv: list[str], run: benchlib.ChildRun) -> None:
    """Both must have done the job: exit 0 and report the near-liquidation positions."""
    if run.returncode != 0:
        sys.stderr.write(run.stderr.decode(errors="replace")[-2000:])
        raise SystemExit(f"{argv[:4]} exited {run.returncode}")
    if b"near-liquidation" not in run.stdout and b"from liquidation" not in run.stdout:
        raise SystemExit(f"{argv[:4]} printed no near-liquidation position")


if __name__ == "__main__":
    sys.exit(main())
