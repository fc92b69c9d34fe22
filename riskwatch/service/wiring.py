"""Wiring: build a Watcher and its hooks from a Config, for ``run``, ``run --once`` and ``demo``.

Kept apart from the loop so the daemon knows nothing of credentials, sqlite or apprise, and so
the demo and the tests build exactly what production builds.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from riskwatch import exchange
from riskwatch.config.accounts import watched
from riskwatch.delivery.console import ConsoleWriter
from riskwatch.errors import ConfigError
from riskwatch.exchange import credentials
from riskwatch.exchange.base import ExchangeClient
from riskwatch.exchange.credentials import Credentials
from riskwatch.exchange.stream import Timing
from riskwatch.model import AccountSettings, Config
from riskwatch.render import alertmanager as am
from riskwatch.service.clock import SteadyClock
from riskwatch.service.cycle import Outcome, Watcher
from riskwatch.service.daemon import Hooks
from riskwatch.service.events import meta_key
from riskwatch.service.feed import StreamFeed
from riskwatch.store.db import Store

if TYPE_CHECKING:
    import requests

    from riskwatch.delivery.workers import Deliverer

log = logging.getLogger("riskwatch")

META_ACCOUNT_MODE = "account_mode"  # per account (``meta_key``): what api: auto found


@dataclass
class Wired:
    watcher: Watcher
    hooks: Hooks
    deliverer: Deliverer | None  # None in dry-run
    store: Store | None
    stop: threading.Event  # ends every backoff of the client and the deliverer: give it the loop
    feed: StreamFeed | None = None  # feed: stream (give it to the Daemon)
    bot: Any = None  # the Telegram bot worker (``telegram:``), started by ``run`` as a daemon

    def close(self) -> None:
        self.hooks.close()


def wire(
    cfg: Config,
    *,
    dry_run: bool = False,
    environ: Mapping[str, str] | None = None,
    out: TextIO | None = None,
    stop: threading.Event | None = None,
    clock: Callable[[], float] | None = None,
    rate_limit: bool = True,
    stream_timing: Timing | None = None,
    one_shot: bool = False,
) -> Wired:
    """Open the state dir, build the exchange client and the delivery for ``cfg``. ``clock``
    (default a ``SteadyClock``) times every duration: for, repeat, backoff, stale, send_ttl.
    ``rate_limit=False`` is for benchmarks only (DESIGN 8): a cycle is timed, not Bitget's
    allowance. ``stream_timing`` is for tests: shorter
    heartbeats and reconnects than Bitget's."""
    env = os.environ if environ is None else environ
    stop = stop or threading.Event()
    clock = clock or SteadyClock()
    keys = {
        a.name: credentials.load(env, a.credentials, a.name if cfg.accounts else None)
        for a in watched(cfg)
    }
    store = _open_store(cfg, dry_run)
    clients = {
        a.name: _client(a, keys[a.name], store, dry_run, stop, rate_limit, one_shot)
        for a in watched(cfg)
    }
    first = watched(cfg)[0].name
    creds, client = keys[first], clients[first]
    hooks = Hooks()
    hooks.closers += [c.close for c in clients.values()]
    if dry_run:
        writer = ConsoleWriter(out or sys.stdout)
        watcher = Watcher(
            cfg,
            clients=clients,
            store=store,
            persist=False,
            destinations=_console_routes,
            clock=clock,
        )
        hooks.delivered = functools.partial(_print_outgoing, writer)
        deliverer: Deliverer | None = None
    else:
        from riskwatch.delivery import workers as notify

        assert store is not None  # only a dry run goes without a store
        watcher = Watcher(
            cfg, clients=clients, store=store, destinations=notify.routes, clock=clock
        )
        deliverer = notify.Deliverer(cfg, store, stop=stop, clock=clock, out=out)
        hooks.delivered = lambda outcome: deliverer.kick()
        hooks.reconfigure = deliverer.reconfigure
        hooks.store_trouble = lambda problem: _tell_store_trouble(deliverer, watcher, problem)
        hooks.closers.append(deliverer.close)
    bot = _bot(cfg, watcher, store, stop, clock) if not dry_run and store is not None else None
    if bot is not None:
        hooks.closers.insert(0, bot.close)
    hooks.closers.append(watcher.close)
    if store is not None:
        hooks.closers.append(store.close)
    if cfg.heartbeat_url:
        pinger = Pinger(cfg.heartbeat_url, timeout=cfg.exchange.timeout)
        hooks.pinged = pinger
        hooks.closers.append(pinger.join)
    if cfg.metrics_listen:
        from riskwatch.service.prometheus import Exporter

        try:
            exporter = Exporter(cfg.metrics_listen)
        except ConfigError as exc:  # e.g. the port is taken: watch anyway, and say so
            log.error("no Prometheus metrics: %s", exc)
            watcher.set_config_error(f"{cfg.path}: {exc}")
        else:
            hooks.exported = exporter.update
            hooks.closers.append(exporter.close)
    feed = _feed(cfg, creds, client, watcher, hooks, clock, stream_timing)
    return Wired(
        watcher=watcher,
        hooks=hooks,
        deliverer=deliverer,
        store=store,
        stop=stop,
        feed=feed,
        bot=bot,
    )


def _client(
    account: AccountSettings,
    creds: credentials.Credentials,
    store: Store | None,
    dry_run: bool,
    stop: threading.Event,
    rate_limit: bool,
    one_shot: bool,
) -> ExchangeClient:
    """One account's client: its own rate limiter and clock sync (Bitget's private limits
    are per UID), starting in the account mode the state dir remembers for it."""
    meta = meta_key(META_ACCOUNT_MODE, account.name)
    remembered = store.get_meta(meta) if store else None

    def remember(mode: str) -> None:
        if store is not None and not dry_run:
            store.set_meta(meta, mode)

    return exchange.build_client(
        account.exchange,
        creds,
        account_mode=remembered,
        on_account_mode=remember,
        stop=stop,
        rate_limit=rate_limit,
        one_shot=one_shot,
    )


def _feed(
    cfg: Config,
    creds: Credentials,
    client: object,
    watcher: Watcher,
    hooks: Hooks,
    clock: Callable[[], float],
    timing: Timing | None,
) -> StreamFeed | None:
    """``feed: stream``: the WebSocket feed, started by the daemon after its first poll; its
    login signs with Bitget's clock (ours plus the offset the REST client measured)."""
    if cfg.exchange.feed != "stream":
        return None
    feed = StreamFeed(
        watched(cfg)[0].exchange,  # one account (config refuses a stream with several)
        creds,
        server_time=lambda: time.time() + getattr(client, "clock_offset", 0.0),
        clock=clock,
        timing=timing,
    )
    watcher.stream_down = feed.down
    hooks.closers.insert(0, feed.close)
    return feed


def _bot(cfg: Config, watcher: Watcher, store: Store, stop: threading.Event, clock) -> Any:
    """The two-way bot of ``telegram:`` (DESIGN 12), not yet started; None without it."""
    if cfg.telegram is None:
        return None
    from riskwatch.delivery.telegram import BotApi
    from riskwatch.service.telegram_bot import Bot, positions_text

    return Bot(
        BotApi(cfg.telegram.token, cfg.telegram.api_url, timeout=cfg.exchange.timeout),
        store,
        settings=lambda: watcher.cfg.telegram,
        positions=lambda: positions_text(
            [a.last_snapshot for a in watcher.accounts if a.last_snapshot]
        ),
        stop=stop,
        clock=clock,
    )


def _print_outgoing(writer: ConsoleWriter, outcome: Outcome) -> None:
    for dest, message in outcome.outgoing:
        writer.write(am.for_console(message) if dest == am.ROUTE else message)


def _console_routes(cfg: Config) -> dict[str, list[str]]:
    """A dry run prints each channel's messages under its name, and what it would post to
    Alertmanager under "alertmanager"."""
    out = {ch.name: [ch.name] for ch in cfg.channels}
    if cfg.alertmanager is not None:
        out[am.ROUTE] = [am.ROUTE]
    return out


STORE_FULL = "state dir full: alerts held, nothing lost yet"


def _tell_store_trouble(deliverer, watcher: Watcher, problem: str | None) -> None:
    """Straight to every channel of ``defaults.channels`` (warning and critical: a state dir
    that holds alerts back matters to a critical-only pager too), past the outbox (writing it is
    what fails); a failure to the service, its end a success."""
    d = watcher.cfg.defaults
    channels = tuple(dict.fromkeys((*d.channels, *(d.critical_channels or ()))))
    if problem is not None:
        deliverer.notice(
            channels, f"riskwatch: {STORE_FULL}", f"{STORE_FULL}: {problem}", "failure"
        )
    else:
        deliverer.notice(
            channels,
            "riskwatch: state dir writable again",
            "state dir writable again: alerts resume with the next cycle",
            "success",
        )


def _open_store(cfg: Config, dry_run: bool) -> Store | None:
    """A dry run reads an existing state dir (read-only) but creates and writes nothing."""
    if not dry_run:
        return Store.open(cfg.state_dir)
    if not os.path.exists(os.path.join(cfg.state_dir, "state.sqlite")):
        return None
    return Store.open(cfg.state_dir, readonly=True)


class Pinger:
    """GET ``heartbeat_url`` after each good cycle (a dead-man's switch such as healthchecks),
    in the background so a slow ping never delays a poll. The URL is a secret: never logged."""

    def __init__(self, url: str, *, timeout: float) -> None:
        self._url = url
        self._timeout = timeout
        self._busy = threading.Lock()
        self._session: requests.Session | None = None

    def __call__(self, outcome: Outcome) -> None:
        if self._busy.acquire(blocking=False):
            threading.Thread(target=self._ping, name="riskwatch-heartbeat", daemon=True).start()

    def join(self, timeout: float = 1.0) -> None:
        """Wait (briefly, at shutdown) for a ping in flight to finish."""
        if self._busy.acquire(timeout=timeout):
            self._busy.release()

    def _ping(self) -> None:
        try:
            import requests

            if self._session is None:
                self._session = requests.Session()
            resp = self._session.get(self._url, timeout=self._timeout)
            if resp.status_code >= 400:
                log.warning("heartbeat_url ping answered HTTP %s", resp.status_code)
        except Exception as exc:  # the edge: any failure of the ping is one log line
            log.warning("heartbeat_url ping failed: %s", type(exc).__name__)
        finally:
            self._busy.release()
