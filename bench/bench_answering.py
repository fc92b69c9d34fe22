"""Benchmark: the answering layer (silences, acks, quiet hours, escalation) over one cycle.

``core.answering.answer`` runs after the engine on every cycle once anything of answering back
is in use. Timed here on its own, pure, at the cycle benchmark's scale: 10,000 positions with
1,000 firing alerts (all remembered), 3 silences, 50 acks, quiet hours and an escalation
policy; once for a steady cycle (no line from the engine) and once with every firing alert's
repeat due (1,000 lines to filter).

    python bench/bench_answering.py [--cycles 50]
"""

from __future__ import annotations

import argparse
import statistics
import time

from riskwatch.answers import Ack, AnswerMemory, Silence
from riskwatch.core import answering
from riskwatch.model import AlertState, Escalate, QuietWindow, Transition

N_FIRING = 1000
NOW = 1_800_000_000.0


def scene() -> tuple[dict, dict, list, dict, dict, list]:
    state, memory, lines = {}, {}, []
    for i in range(N_FIRING):
        key = ("near-liquidation", "USDT-FUTURES", f"SYM{i}USDT", "long")
        sev = "critical" if i % 10 == 0 else "warning"
        state[key] = AlertState(
            key=key,
            status="firing",
            severity=sev,
            since=NOW - 900,
            value=3.0,
            last_sent_at=NOW - 600,
            last_sent_value=3.0,
            channels=("phone",),
            metric="liq_gap_pct",
            op="<",
        )
        memory[key] = AnswerMemory(
            key=key, told=True, critical_since=NOW - 900 if sev == "critical" else None
        )
        lines.append(
            Transition(
                key=key,
                kind="repeat",
                severity=sev,
                previous_severity=sev,
                rule=key[0],
                metric="liq_gap_pct",
                value=3.0,
                threshold=4.0,
                op="<",
                at=NOW,
                channels=("phone",),
            )
        )
    silences = [
        Silence(id=f"s{i}", starts_at=NOW - 60, ends_at=NOW + 3600, symbol=f"SYM{i}*")
        for i in range(3)
    ]
    acks = {k: Ack(key=k, by="alice", at=NOW - 60) for k in list(state)[:50]}
    policies = {
        "near-liquidation": answering.Policy(
            quiet=(QuietWindow(start=23 * 60, end=7 * 60),),
            escalate=Escalate(after=600, channels=("pager",)),
            warning=10.0,
            critical=4.0,
        )
    }
    return state, memory, silences, acks, policies, lines


def timed(cycles: int, lines: list, state, memory, silences, acks, policies) -> list[float]:
    out = []
    for _ in range(cycles):
        t0 = time.perf_counter()
        answering.answer(
            lines,
            state,
            memory,
            silences=silences,
            acks=acks,
            policies=policies,
            timezone="Europe/Berlin",
            now=NOW,
        )
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--cycles", type=int, default=50)
    args = p.parse_args()
    state, memory, silences, acks, policies, lines = scene()
    for name, todo in (("steady (no lines)", []), ("1,000 repeats due", lines)):
        t = timed(args.cycles, todo, state, memory, silences, acks, policies)
        print(
            f"answering, {N_FIRING} firing, {name}: median {statistics.median(t) * 1e3:.2f} ms,"
            f" max {max(t) * 1e3:.2f} ms ({args.cycles} cycles)"
        )


if __name__ == "__main__":
    main()
