"""``riskwatch demo``: the simulated exchange plus the real daemon, alerts on the console.

Everything is real but the exchange: the rules file is loaded and validated, requests are
signed and checked, alerts go through the store's outbox and the delivery workers to the
console. The price path is scripted, so every run shows a warning, a critical and a resolve
within about 30 seconds, and the loop ends with Bitget liquidating a second position (ETHUSDT
short), so a new user sees what a LIQUIDATED line looks like; then it repeats.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.util
import os
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from importlib import resources

from riskwatch.config import load as config
from riskwatch.exchange.fake.server import FakeBitget
from riskwatch.exchange.fake.ws import FakeBitgetWS
from riskwatch.model import Config
from riskwatch.service.daemon import Daemon
from riskwatch.service.wiring import wire

# (seconds into the 30 s loop, BTCUSDT mark). Liquidation sits at 90,000; the rule warns below
# an 8 % gap and is critical below 4 %, clearing 1 point above (hysteresis).
PRICE_PATH: Sequence[tuple[float, str]] = (
    (0.0, "100000"),  # gap 10 %: quiet
    (4.0, "97000"),  # gap 7.2 %: warning (and a -30 % drawdown)
    (10.0, "93500"),  # gap 3.7 %: critical; drawdown -65 %: warning
    (16.0, "92700"),  # gap 2.9 %: still critical
    (21.0, "101500"),  # gap 11.3 %: resolved
)
# (seconds into the loop, ETHUSDT mark or "liquidate"): the short's liquidation sits at 2,760.
SECOND_PATH: Sequence[tuple[float, str]] = (
    (24.0, "2745"),  # gap 0.5 %: critical
    (26.0, "liquidate"),  # Bitget liquidates it: LIQUIDATED ETHUSDT short, the alert ENDED
)
LOOP_SECONDS = 30.0


def run(args: argparse.Namespace) -> int:
    with (
        tempfile.TemporaryDirectory(prefix="riskwatch-demo-") as state_dir,
        FakeBitget(seed=7) as fake,
        resources.as_file(resources.files("riskwatch.cli") / "demo_rules.yaml") as rules,
    ):
        _open_book(fake)
        env = dict(os.environ)
        env.update(FakeBitget.credentials_env())
        env.update(RISKWATCH_DEMO_URL=fake.url, RISKWATCH_DEMO_STATE=state_dir)
        cfg = config.load(str(rules), environ=env)
        streaming = getattr(args, "feed", "poll") == "stream"
        if streaming and importlib.util.find_spec("websockets") is None:
            print("demo --feed stream needs websockets: pip install 'riskwatch[stream]'")
            return 1
        with contextlib.ExitStack() as stack:
            if streaming:
                cfg = _streaming(cfg, stack.enter_context(FakeBitgetWS(fake)))
            print(
                f"riskwatch demo: a simulated Bitget on {fake.url} holds 3 positions; BTCUSDT long "
                "(liquidation 90,000) drifts toward liquidation and back every 30 s, and each "
                "loop ends with Bitget liquidating the ETHUSDT short.\n"
                + (STREAM_NOTE if streaming else POLL_NOTE)
                + "Alerts appear below as they would on Telegram or Slack. Ctrl-C to stop.\n",
                flush=True,
            )
            wired = wire(cfg, environ=env, out=sys.stdout)
            stop = wired.stop
            script = threading.Thread(
                target=play, args=(fake, stop), kwargs={"say": True}, name="demo-prices"
            )
            script.daemon = True
            script.start()
            if args.duration:
                timer = threading.Timer(args.duration, stop.set)
                timer.daemon = True  # Ctrl-C before the end must not wait for it
                timer.start()
            daemon = Daemon(
                str(rules), wired.watcher, wired.hooks, environ=env, stop=stop, feed=wired.feed
            )
            return daemon.run()


POLL_NOTE = "Feed: REST polling every 1 s (try --feed stream: a 10 s poll plus WebSocket marks).\n"
STREAM_NOTE = (
    "Feed: stream. REST polls only every 10 s, yet each alert follows its price move within a\n"
    "fraction of a second: the WebSocket's mark ticks re-evaluate the rules between polls.\n"
)


def _streaming(cfg: Config, ws: FakeBitgetWS) -> Config:
    """The demo's rules with ``feed: stream`` and a 10 s poll, on the simulator's sockets."""
    ex = dataclasses.replace(
        cfg.exchange,
        feed="stream",
        poll_interval=10.0,
        ws_public_url=ws.url("public"),
        ws_private_url=ws.url("private"),
    )
    return dataclasses.replace(cfg, exchange=ex)


def _open_book(fake: FakeBitget) -> None:
    fake.add_position(
        "BTCUSDT",
        "long",
        total="0.5",
        mark="100000",
        open_price="100000",
        liquidation="90000",
        leverage=10,
    )
    _open_second(fake)
    fake.add_position("SOLUSDT", "long", total="20", mark="150", leverage=1, no_liquidation=True)
    fake.set_account(crossedRiskRate="0.12")


def _open_second(fake: FakeBitget) -> None:
    fake.add_position(
        "ETHUSDT",
        "short",
        total="4",
        mark="2500",
        open_price="2480",
        liquidation="2760",
        leverage=10,
    )


def _script() -> list[tuple[float, str, str]]:
    steps = [(when, "BTCUSDT", mark) for when, mark in PRICE_PATH]
    steps += [(when, "ETHUSDT", what) for when, what in SECOND_PATH]
    return sorted(steps)


def play(
    fake: FakeBitget, stop: threading.Event, *, loop: float = LOOP_SECONDS, say: bool = False
) -> None:
    """Move BTCUSDT along PRICE_PATH and ETHUSDT along SECOND_PATH (re-opening it at the start
    of each loop), forever, until ``stop``; ``say`` prints each move with the time, so the
    delay to the alert that follows shows."""
    first = True
    while not stop.is_set():
        if not first:
            _open_second(fake)
        first = False
        at = 0.0
        for when, symbol, what in _script():
            if stop.wait(when - at):
                return
            at = when
            if what == "liquidate":
                fake.liquidate(symbol, "short")
            else:
                fake.set_mark(symbol, what)
            if say:
                shown = "liquidated" if what == "liquidate" else f"mark {what}"
                print(f"[{time.strftime('%H:%M:%S')}] price: {symbol} {shown}\n", flush=True)
        if stop.wait(loop - at):
            return
