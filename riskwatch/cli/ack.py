"""``riskwatch ack RULE SYMBOL [SIDE]``: acknowledge a firing alert (DESIGN 12).

An acked alert sends no repeats until it escalates, worsens by ``worsen_by`` or resolves
(which ends the ack), and is not escalated. Written to the state dir; a running daemon applies
it within one cycle. For an account rule, SYMBOL is the margin coin; a built-in alert
(``riskwatch ack riskwatch-stale``) has none.
"""

from __future__ import annotations

import argparse
import fnmatch
import sys
import time
from typing import TextIO

from riskwatch.errors import ConfigError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("rule", metavar="RULE")
    p.add_argument(
        "symbol",
        metavar="SYMBOL",
        nargs="?",
        default="",
        help="symbol (margin coin for account rules; none for riskwatch-stale and the like)",
    )
    p.add_argument("side", metavar="SIDE", nargs="?", default="", choices=("", "long", "short"))
    p.add_argument("--account", help="only the alerts of accounts matching this glob")
    p.add_argument("-c", "--config", default=None, help="rules file (for its state_dir)")
    p.add_argument("--state-dir", help="this state dir instead of the config's")


def run(args: argparse.Namespace, out: TextIO | None = None, now: float | None = None) -> int:
    from riskwatch.cli.silence import _user, open_state
    from riskwatch.core.silences import firing_matches
    from riskwatch.render.words import alert_words
    from riskwatch.store import silences as stored

    now = time.time() if now is None else now
    out = out or sys.stdout
    store = open_state(args, "ack")
    try:
        found = firing_matches(store.load_state(), args.rule, args.symbol, args.side)
        if getattr(args, "account", None):
            found = [a for a in found if fnmatch.fnmatchcase(a.key[4], args.account.lower())]
        if not found:
            what = " ".join(p for p in (args.rule, args.symbol, args.side) if p)
            raise ConfigError(f"ack: no firing alert {what} (riskwatch status lists them)")
        for alert in found:
            stored.add_ack(store, alert.key, _user(), now)
            what = alert_words(alert.key)
            print(f"acked {what} ({alert.severity})", file=out)
    finally:
        store.close()
    return 0
