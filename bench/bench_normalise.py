"""Benchmark: normalise 10,000 v2 position rows (target: under 60 ms on the dev machine).

Plain script: ``python bench/bench_normalise.py``. Prints the median of several runs.
"""

from __future__ import annotations

import json
import statistics
import time

from riskwatch.exchange.normalise import positions as normalise

ROWS = 10_000
RUNS = 9

_TEMPLATE = {
    "marginCoin": "USDT",
    "symbol": "BTCUSDT",
    "holdSide": "short",
    "openDelegateSize": "0",
    "marginSize": "103.1894785714285715",
    "available": "0.0155",
    "locked": "0",
    "total": "0.0155",
    "leverage": "14",
    "achievedProfits": "8.605233333333333",
    "openPriceAvg": "88505.233333333333",
    "marginMode": "crossed",
    "posMode": "hedge_mode",
    "unrealizedPL": "-72.8215833333333385",
    "liquidationPrice": "99817.41",
    "keepMarginRate": "0.004",
    "markPrice": "93203.4",
    "marginRatio": "0.0028541392311979",
    "breakEvenPrice": "85283.0669339944416898",
    "totalFee": "-56.8315381906",
    "deductedFee": "0.92414181",
    "grant": "",
    "assetMode": "union",
    "autoMargin": "off",
    "takeProfit": "",
    "stopLoss": "",
    "cTime": "1766103799183",
    "uTime": "1767682800537",
}


def rows(n: int = ROWS) -> list[dict]:
    """``n`` distinct rows, parsed from JSON text as the client would see them."""
    out = []
    for i in range(n):
        r = dict(_TEMPLATE)
        r["symbol"] = f"C{i}USDT"
        r["holdSide"] = "long" if i % 2 else "short"
        r["markPrice"] = f"{93203.4 + i * 0.1:.1f}"
        r["liquidationPrice"] = f"{99817.41 - i * 0.01:.2f}" if i % 2 == 0 else f"{80000 + i:.1f}"
        out.append(r)
    return json.loads(json.dumps(out))


def main() -> None:
    data = rows()
    times = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        positions, warnings = normalise.positions("v2", data, "USDT-FUTURES", "/bench")
        times.append(time.perf_counter() - t0)
        assert len(positions) == ROWS and not warnings
    med = statistics.median(times) * 1000
    print(
        f"normalise {ROWS} v2 rows: median {med:.1f} ms over {RUNS} runs "
        f"(min {min(times) * 1000:.1f} ms, target < 60 ms)"
    )


if __name__ == "__main__":
    main()
