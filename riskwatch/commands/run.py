"""``riskwatch run [-c FILE] [--once] [--dry-run]``: the daemon, or one cycle of it."""

from __future__ import annotations

import argparse
import logging
import sys

from riskwatch import config
from riskwatch.daemon import Daemon
from riskwatch.errors import AuthError, ExchangeError
from riskwatch.wiring import wire

log = logging.getLogger("riskwatch")
EXIT_OK, EXIT_REFUSED, EXIT_UNREACHABLE = 0, 3, 4


def run(args: argparse.Namespace) -> int:
    cfg = config.load(args.config)
    for warning in config.lint(cfg):
        log.warning("%s", warning)
    wired = wire(cfg, dry_run=args.dry_run, out=sys.stdout)
    if args.once:
        return once(wired)
    log.info(
        "watching %s every %gs with %d rules",
        ", ".join(cfg.exchange.product_types),
        cfg.exchange.poll_interval,
        len(cfg.rules),
    )
    return Daemon(args.config, wired.watcher, wired.hooks, stop=wired.stop).run()


def once(wired) -> int:
    """One cycle, deliver what can be delivered, exit by what the exchange said (DESIGN 8)."""
    try:
        outcome = wired.watcher.cycle()
        if wired.deliverer is None:  # dry run: print
            wired.hooks.delivered(outcome)
        else:  # no later cycle: try every pending message now, whatever its schedule
            log.info("%s", wired.deliverer.deliver_all_once())
    finally:
        for close in wired.hooks.closers:
            close()
    if isinstance(outcome.error, AuthError):
        print(
            f"riskwatch: exchange refused the credentials: {outcome.error.explanation}",
            file=sys.stderr,
        )
        return EXIT_REFUSED
    if isinstance(outcome.error, ExchangeError):
        print(f"riskwatch: exchange unreachable: {outcome.error}", file=sys.stderr)
        return EXIT_UNREACHABLE
    return EXIT_OK
