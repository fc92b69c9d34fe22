"""``riskwatch test-notify``: send a test message to every URL (or one channel's) and say, per
URL, whether it was accepted.

Why through the daemon's own sender and retry policy: a test that passes must mean the daemon's
alerts will pass too (same plain-text format, same retries on a 429). URLs are shown only in
apprise's privacy-masked form. Exit 0 when every URL accepted, 5 when any failed, 1 for an
unknown channel.
"""

from __future__ import annotations

import argparse
import socket
import threading
import time
from typing import TextIO

from riskwatch.config import load as config
from riskwatch.delivery.retry import RetryPolicy, send_with_retries
from riskwatch.delivery.workers import destinations
from riskwatch.errors import ConfigError, RiskwatchError
from riskwatch.model import Config
from riskwatch.render.words import plural

EXIT_OK, EXIT_FAILED = 0, 5
TITLE = "riskwatch: test message"


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    cfg = config.load(args.config)
    return test_channels(cfg, args.channel, out=out)


def test_channels(
    cfg: Config,
    only: str | None = None,
    *,
    out: TextIO | None = None,
    policy: RetryPolicy | None = None,
    stop: threading.Event | None = None,
) -> int:
    if only is not None and cfg.channel(only) is None:
        names = ", ".join(c.name for c in cfg.channels) or "none defined"
        raise ConfigError(f"{cfg.path}: unknown channel {only!r} (channels: {names})")
    stop = stop or threading.Event()
    dests = [d for d in destinations(cfg, out).values() if only is None or only in d.channels]
    if not dests:
        print("no channel URLs to test", file=out)
        return EXIT_OK
    failed = 0
    for dest in dests:
        body = (
            f"Test message from riskwatch on {socket.gethostname()} for channel "
            f"{dest.label}. If you read this, riskwatch's alerts reach you here."
        )
        try:
            attempts = send_with_retries(
                dest.sender,
                TITLE,
                body,
                policy=policy or RetryPolicy(),
                clock=time.monotonic,
                sleep=stop.wait,
                stop=stop,
            )
            verdict = f"ok ({plural(attempts, 'attempt')})"
        except RiskwatchError as exc:
            failed += 1
            reason = str(exc).removeprefix(f"{dest.sender.display()}: ")
            verdict = f"FAILED: {reason}"
        print(f"{dest.label}  {dest.sender.display()}  {verdict}", file=out, flush=True)
    total = len(dests)
    print(f"{total - failed} of {plural(total, 'URL')} accepted", file=out)
    return EXIT_FAILED if failed else EXIT_OK
