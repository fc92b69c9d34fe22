"""``riskwatch run [-c FILE] [--once] [--dry-run]``: the daemon, or one cycle of it."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys

from riskwatch.cli import main as cli
from riskwatch.config import load as config
from riskwatch.render.words import plural
from riskwatch.service.daemon import Daemon
from riskwatch.service.wiring import wire

log = logging.getLogger("riskwatch")
EXIT_OK = 0


def run(args: argparse.Namespace) -> int:
    cfg = config.load(args.config)
    for warning in config.lint(cfg):
        log.warning("%s", warning)
    wired = wire(cfg, dry_run=args.dry_run, out=sys.stdout)
    if args.once:
        return once(wired)
    log.info(
        "watching %s every %gs with %s",
        ", ".join(cfg.exchange.product_types),
        cfg.exchange.poll_interval,
        plural(len(cfg.rules), "rule"),
    )
    if wired.feed is not None:
        log.info("feed: stream: WebSocket marks between polls, REST stays the source of truth")
    if wired.bot is not None:
        wired.bot.start()  # the Telegram buttons and commands (DESIGN 12)
    daemon = Daemon(args.config, wired.watcher, wired.hooks, stop=wired.stop, feed=wired.feed)
    code = daemon.run()
    exit_now(code)
    return code  # not reached


def exit_now(code: int) -> None:
    """End the process now that the daemon has stopped cleanly (state committed, store
    closed). A send abandoned at shutdown may still sit in a library's worker thread (apprise
    runs sends in a thread pool, which the interpreter joins at exit): waiting for it would
    let a stalled service hold SIGTERM for as long as it trickles."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def once(wired) -> int:
    """One cycle, deliver what can be delivered, exit by what the exchange said (DESIGN 8)."""
    try:
        outcome = wired.watcher.cycle()
        if wired.deliverer is None:  # dry run: print
            wired.hooks.delivered(outcome)
        else:  # no later cycle: try every pending message now, whatever its schedule
            log.info("%s", wired.deliverer.deliver_all_once())
    finally:
        wired.close()
    if outcome.error is not None:  # after delivering: the auth alert went out first
        return cli.report(outcome.error)  # one redacted line, exit 3 refused / 4 unreachable
    return EXIT_OK
