"""Time the store's per-cycle commit: N alerts of which about 10 % change each cycle, plus a
grouped message queued and then removed (delivered). Prints numbers; asserts nothing.

    python bench/bench_store.py [ALERTS] [CYCLES]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time

from riskwatch.model import AlertState, Message
from riskwatch.store.db import Store


def main(alerts: int = 2000, cycles: int = 50) -> None:
    with tempfile.TemporaryDirectory() as d:
        store = Store.open(d)
        keys = [("near", "USDT-FUTURES", f"SYM{i}USDT", "long") for i in range(alerts)]
        state = {
            k: AlertState(k, "firing", "warning", 1.0, 10.0, 1.0, 10.0, ("phone",)) for k in keys
        }
        store.commit_cycle(state)
        times = []
        for c in range(cycles):
            for k in keys[c % 10 :: 10]:
                state[k] = AlertState(k, "firing", "warning", 1.0, 10.0 - c, 1.0, 10.0, ("phone",))
            msg = Message("phone", "t", "x" * 2000, float(c), tuple(keys[:20]))
            t0 = time.perf_counter()
            store.commit_cycle(state, [("dest", msg)], {"last_success": str(c)})
            for item in store.undelivered("dest"):
                store.remove(item.id)
            times.append(time.perf_counter() - t0)
        store.close()
    ms = [t * 1000 for t in times]
    print(
        f"store: {alerts} alerts, ~{alerts // 10} changed per cycle, 1 message queued+removed: "
        f"median {statistics.median(ms):.2f} ms, max {max(ms):.2f} ms per cycle "
        f"(synchronous=FULL, WAL)"
    )


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
