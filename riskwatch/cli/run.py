"""``riskwatch run [-c FILE] [--once] [--dry-run]``: the daemon, or one cycle of it.

The daemon never leaves the account unwatched for a config error (DESIGN section 16): an
invalid file at start runs on the last good copy kept in the state dir (and raises
``riskwatch-config``), or, with no copy, holds (``service.holding``) until the file loads.
One daemon per state dir (``service.statelock``). ``--once`` and ``--dry-run`` are one-shot
trials: an invalid file exits 1, they take no lock and keep no copy.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from collections.abc import Mapping

from riskwatch.cli import main as cli
from riskwatch.cli.check import load_checked
from riskwatch.config import lastgood
from riskwatch.config import load as config
from riskwatch.config.accounts import named
from riskwatch.config.lint import lint
from riskwatch.errors import ConfigError
from riskwatch.model import Config
from riskwatch.render.words import plural
from riskwatch.service.daemon import Daemon
from riskwatch.service.holding import Holding, first_problem
from riskwatch.service.keeper import Keeper
from riskwatch.service.statelock import StateLock
from riskwatch.service.wiring import wire

log = logging.getLogger("riskwatch")
EXIT_OK = 0


def run(args: argparse.Namespace) -> int:
    if args.once or args.dry_run:
        cfg = config.load(args.config) if args.dry_run else load_checked(args.config)
        _warn(cfg)
        wired = wire(cfg, dry_run=args.dry_run, out=sys.stdout, one_shot=args.once)
        return once(wired) if args.once else _daemon(args.config, cfg, wired, None)
    try:
        return serve(args.config, os.environ)
    except cli.Terminated:  # SIGTERM while starting: a stop, not a failure
        return EXIT_OK


def serve(path: str, environ: Mapping[str, str]) -> int:
    """The daemon: start on the file, else on its last good copy, else hold until it loads."""
    keeper = Keeper(path, environ, checked=_checked, quick=_quick)
    problem: str | None = None
    cfg: Config | None
    try:
        cfg = keeper.load(path, quick=True)  # apprise is checked after the first poll
    except ConfigError as exc:
        for line in exc.problems:
            log.error("invalid rules file: %s", line)
        problem = first_problem(exc)
        cfg = keeper.fallback()
    state_dir = cfg.state_dir if cfg else lastgood.locate_state_dir(path, environ)
    lock = StateLock.acquire(state_dir)
    keeper.locked()  # only the daemon that holds the state dir writes its copy
    try:
        if cfg is None:
            log.error("not watching until %s loads", path)
            cfg = _hold(path, problem or "", keeper)
            if cfg is None:
                return EXIT_OK
            problem = None
        _warn(cfg)
        wired = wire(cfg, out=sys.stdout)
        if problem is not None:
            _on_copy(wired, problem)
        else:
            keeper.adopted()  # a file the holding loop loaded (a quick load waits for verify)
            wired.hooks.delivered = _then_verify(wired, keeper)
        inner = wired.hooks.reconfigure

        def reconfigure(new: Config) -> None:  # a reload applied: keep it, lint it
            inner(new)
            keeper.adopted()
            _warn(new)

        wired.hooks.reconfigure = reconfigure
        return _daemon(path, cfg, wired, keeper)
    finally:
        lock.release()


def _checked(path: str, environ: Mapping[str, str], text: str) -> Config:
    return load_checked(path, environ, text=text)


def _quick(path: str, environ: Mapping[str, str], text: str) -> Config:
    return config.load(path, environ=environ, text=text)


def _on_copy(wired, problem: str) -> None:
    log.warning("running on the last good copy %s", lastgood.path_in(wired.watcher.cfg.state_dir))
    wired.watcher.set_config_error(problem)  # raises riskwatch-config with FILE:LINE


def _then_verify(wired, keeper: Keeper):
    """The delivery hook, plus once after the first cycle's delivery: the apprise check of
    the file loaded quick. A URL apprise cannot use makes the file invalid: switch to the
    last good copy when there is one, and raise riskwatch-config either way."""
    inner = wired.hooks.delivered
    pending = [True]

    def delivered(outcome) -> None:
        inner(outcome)
        if not pending:
            return
        pending.clear()
        problem = keeper.verify()
        if problem is None:
            return
        copy = keeper.fallback()
        if copy is not None:
            wired.watcher.apply_config(copy)
            wired.hooks.reconfigure(copy)
            _on_copy(wired, problem)
        else:
            wired.watcher.set_config_error(problem)

    return delivered


def _hold(path: str, problem: str, keeper: Keeper) -> Config | None:
    stop = threading.Event()
    salvaged = config.salvage(path, environ=keeper.environ)
    urls = [u for ch in salvaged.channels for u in ch.urls] if salvaged else []
    announce = _announcer(urls, stop) if urls else None
    holding = Holding(path, problem, load=keeper.load, announce=announce, stop=stop)
    try:
        return holding.run()
    finally:
        stop.set()


def _announcer(urls: list[str], stop: threading.Event):
    """Send (title, body) to each URL with the daemon's retry policy; failures are logged."""
    from riskwatch.delivery.apprise_sender import build_sender
    from riskwatch.delivery.retry import RetryPolicy, send_with_retries
    from riskwatch.errors import RiskwatchError

    def announce(title: str, body: str) -> None:
        import time

        for url in urls:
            sender = build_sender(url, sys.stdout)
            try:
                send_with_retries(
                    sender,
                    title,
                    body,
                    policy=RetryPolicy(),
                    clock=time.monotonic,
                    sleep=stop.wait,
                    stop=stop,
                )
            except RiskwatchError as exc:
                log.warning("could not send riskwatch-config to %s: %s", sender.display(), exc)

    return announce


def _warn(cfg: Config) -> None:
    for warning in lint(cfg):
        log.warning("%s", warning)


def _daemon(path: str, cfg: Config, wired, keeper: Keeper | None) -> int:
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
    load = keeper.load if keeper else None
    daemon = Daemon(path, wired.watcher, wired.hooks, stop=wired.stop, feed=wired.feed, load=load)
    return daemon.run()  # the program then ends at once: ``cli.main.console``


def once(wired) -> int:
    """One cycle, deliver what can be delivered, exit by what the exchange said (DESIGN 8)."""
    try:
        outcome = wired.watcher.cycle(patient=True)
        if wired.deliverer is None:  # dry run: print
            wired.hooks.delivered(outcome)
        else:  # no later cycle: try every pending message now, whatever its schedule
            log.info("%s", wired.deliverer.deliver_all_once())
    finally:
        wired.close()
    if len(outcome.errors) > 1 or (outcome.errors and named(wired.watcher.cfg)):
        for name, error in outcome.errors:  # each failed account in one line
            log.error("account %s: %s", name, error)
    if outcome.error is not None:  # after delivering: the auth alert went out first
        return cli.report(outcome.error)  # one redacted line, exit 3 refused / 4 unreachable
    return EXIT_OK
