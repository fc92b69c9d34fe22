"""The peer: what a trader without riskwatch runs from cron, written with ccxt.

Loads the API keys from the environment, fetches every USDT-FUTURES position from Bitget (here:
riskwatch's simulated exchange at ``--base-url``), computes each position's liquidation gap in
percent of mark and prints the ones under ``--threshold``. That is the whole job of the usual
cron script, and the job ``riskwatch run --once --dry-run`` does (plus rules, state, routing).

ccxt is never a riskwatch dependency: this script runs in its own venv
(``python3 -m venv /tmp/ccxt-venv && /tmp/ccxt-venv/bin/pip install ccxt``).

Favourable to ccxt on purpose: its markets are preset to an empty table, so ccxt skips
``load_markets()`` (on the real exchange that is 3+ extra requests and several MB of JSON). The
figures are therefore a lower bound for a real ccxt cron script.
"""

from __future__ import annotations

import argparse
import os
import sys

import ccxt


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base-url", required=True, help="e.g. http://127.0.0.1:PORT")
    ap.add_argument("--threshold", type=float, default=15.0, help="liq gap %% to report under")
    args = ap.parse_args(argv)

    exchange = ccxt.bitget(
        {
            "apiKey": os.environ["BITGET_API_KEY"],
            "secret": os.environ["BITGET_API_SECRET"],
            "password": os.environ["BITGET_API_PASSPHRASE"],
            "timeout": 10_000,
        }
    )
    # Point every REST family at the simulated exchange (ccxt signs "/api/..." paths as Bitget).
    exchange.urls["api"] = {k: args.base_url for k in exchange.urls["api"]}
    exchange.set_markets([])  # skip load_markets(): see the module docstring

    positions = exchange.fetch_positions(params={"productType": "USDT-FUTURES"})
    near = 0
    for p in positions:
        mark, liq = p.get("markPrice"), p.get("liquidationPrice")
        if not mark or not liq or liq <= 0:
            continue
        gap = (mark - liq) / mark * 100 if p.get("side") == "long" else (liq - mark) / mark * 100
        if gap < args.threshold:
            near += 1
            print(f"{p['symbol']} {p['side']}: mark {mark} is {gap:.2f}% from liquidation {liq}")
    print(f"{len(positions)} positions, {near} under {args.threshold}%", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
