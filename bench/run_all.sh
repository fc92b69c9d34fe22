#!/bin/sh
# Run every benchmark in turn and print its figures (about 6 minutes on 2 cores).
# Usage: bench/run_all.sh [PYTHON] ; ccxt's interpreter: $CCXT_PYTHON (default /work/ccxt-venv/bin/python)
set -eu
PY="${1:-python}"
cd "$(dirname "$0")"
for b in bench_engine.py bench_normalise.py bench_cycle.py bench_events.py bench_startup.py \
         bench_latency.py bench_stream.py bench_vs_ccxt.py bench_soak.py bench_answering.py bench_accounts.py; do
    echo "== $b"
    "$PY" "$b"
    echo
done
