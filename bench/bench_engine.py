"""Benchmark: one steady-state engine cycle, 10,000 positions x 20 rules (DESIGN section 8).

Plain script (no pytest): ``/work/venv/bin/python bench/bench_engine.py [--positions N]``.
About 10 % of the (rule, position) alerts are firing; prices move a little every cycle (two
snapshots alternate), so every column is recomputed as it would be in production. Prints
milliseconds per cycle and (rule, position) checks per second, after a warm-up. The target is
100 ms per cycle (2M checks/s) on a 2-core machine.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from decimal import Decimal

from riskwatch.core import engine
from riskwatch.model import Account, Defaults, Match, Position, Rule, Snapshot

PT = "USDT-FUTURES"


def positions(n: int, rng: random.Random, drift: float) -> tuple[Position, ...]:
    out = []
    for i in range(n):
        side = "long" if i % 2 == 0 else "short"
        mark = 100.0 + (i % 997)
        gap = rng.uniform(0.5, 100.0)  # uniform gap: a "< 10" rule hits ~10 %
        liq = mark * (1 - gap / 100) if side == "long" else mark * (1 + gap / 100)
        mark *= 1 + drift
        out.append(
            Position(
                product_type=PT,
                symbol=f"C{i // 2:05d}USDT",
                side=side,  # type: ignore[arg-type]
                margin_coin="USDT",
                total=Decimal("1.5"),
                mark_price=Decimal(f"{mark:.4f}"),
                liquidation_price=Decimal(f"{liq:.4f}"),
                leverage=Decimal(rng.choice(["5", "10", "20", "50"])),
                margin=Decimal("100"),
                unrealized_pl=Decimal(f"{rng.uniform(-60, 20):.2f}"),
                keep_margin_rate=Decimal(rng.choice(["0.004", "0.005", "0.01", "0.02"])),
                margin_ratio=Decimal(f"{rng.uniform(0, 1):.4f}"),
            )
        )
    return tuple(out)


def rules() -> tuple[Rule, ...]:
    """20 rules, each firing for about 10 % of what it looks at."""
    rs: list[Rule] = []
    for k in range(8):
        rs.append(Rule(f"gap-{k}", "liq_gap_pct", "<", warning=10.5 + k * 0.01, critical=3,
                       hysteresis=1, worsen_by=2))  # fmt: skip
    for k in range(4):
        rs.append(Rule(f"plr-{k}", "unrealizedPLR", "<=", warning=-0.52 - k * 0.001))
    for k in range(4):
        rs.append(Rule(f"ratio-{k}", "marginRatio", ">=", warning=0.9 + k * 0.001, critical=0.97))
    rs.append(Rule("btc-gap", "liq_gap_pct", "<", warning=10.5, match=Match(symbol=("c0*",))))
    rs.append(Rule("longs", "liq_gap_pct", "<", critical=10.5, match=Match(side=("long",))))
    rs.append(Rule("tier", "keepMarginRate", ">=", warning=0.02, match=Match(side=("short",))))
    rs.append(Rule("acct", "crossedRiskRate", ">=", critical=0.8, scope="account"))
    return tuple(rs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--positions", type=int, default=10_000)
    ap.add_argument("--cycles", type=int, default=30)
    args = ap.parse_args()
    accounts = (Account(PT, "USDT", crossed_risk_rate=Decimal("0.12")),)
    snaps = [
        Snapshot(0.0, positions(args.positions, random.Random(7), d), accounts, frozenset({PT}))
        for d in (0.0, 0.0001)
    ]
    rs = engine.compile_rules(rules(), Defaults())  # once, as the watcher does
    state: dict = {}
    now = 1_000_000.0
    for i in range(5):  # warm-up: first firing of everything, caches filled
        _, state = engine.evaluate(rs, snaps[i % 2], state, now)
        now += 10
    firing = sum(1 for s in state.values() if s.status == "firing")
    times = []
    sent = 0
    for i in range(args.cycles):
        t0 = time.perf_counter()
        transitions, state = engine.evaluate(rs, snaps[i % 2], state, now)
        times.append(time.perf_counter() - t0)
        sent += len(transitions)
        now += 10
    checks = args.positions * len(rs.rules)
    med = statistics.median(times)
    print(" ".join(f"{t * 1000:.0f}" for t in times))
    print(f"positions={args.positions} rules={len(rs.rules)} checks/cycle={checks}")
    print(f"alerts firing={firing} ({firing / checks:.1%}), transitions in timed cycles={sent}")
    print(f"median {med * 1000:.1f} ms/cycle, best {min(times) * 1000:.1f} ms, "
          f"{checks / med / 1e6:.2f}M checks/s")  # fmt: skip


if __name__ == "__main__":
    main()
