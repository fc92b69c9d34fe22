"""``riskwatch test-notify``: send a test message to every URL (or one channel's) and say, per
URL, whether it was accepted.

An Alertmanager URL gets a test alert (``riskwatch-test``, severity info) that fires at once
and resolves itself by its ``endsAt`` one ``resend`` later.

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
from riskwatch.delivery.alertmanager import AlertmanagerSender
from riskwatch.delivery.retry import RetryPolicy, send_with_retries
from riskwatch.delivery.workers import destinations
from riskwatch.errors import ConfigError, RiskwatchError
from riskwatch.model import Config
from riskwatch.render import alertmanager as am
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
    with_am = cfg.alertmanager is not None and only in (None, am.CHANNEL)
    if only is not None and cfg.channel(only) is None and not with_am:
        names = ", ".join(c.name for c in cfg.channels) or "none defined"
        raise ConfigError(f"{cfg.path}: unknown channel {only!r} (channels: {names})")
    stop = stop or threading.Event()
    dests = [
        d
        for d in destinations(cfg, out).values()
        if (only is None or only in d.channels)
        and (with_am or not isinstance(d.sender, AlertmanagerSender))
    ]
    if not dests:
        print("no channel URLs to test", file=out)
        return EXIT_OK
    failed = 0
    for dest in dests:
        to_am = isinstance(dest.sender, AlertmanagerSender)
        title, body = _test_message(cfg, dest.label, to_am)
        try:
            attempts = send_with_retries(
                dest.sender,
                title,
                body,
                policy=policy or RetryPolicy(),
                clock=time.monotonic,
                sleep=stop.wait,
                stop=stop,
                timeout=dest.send_timeout,
                label=f"channel {dest.label} {dest.sender.display()}",
            )
            verdict = f"ok ({plural(attempts, 'attempt')})"
            if to_am and cfg.alertmanager is not None:
                verdict += f"; alert riskwatch-test resolves in {cfg.alertmanager.resend:g} s"
        except RiskwatchError as exc:
            failed += 1
            reason = str(exc).removeprefix(f"{dest.sender.display()}: ")
            verdict = f"FAILED: {reason}"
        print(f"{dest.label}  {dest.sender.display()}  {verdict}", file=out, flush=True)
    total = len(dests)
    print(f"{total - failed} of {plural(total, 'URL')} accepted", file=out)
    return EXIT_FAILED if failed else EXIT_OK


def _test_message(cfg: Config, label: str, to_am: bool) -> tuple[str, str]:
    """(title, body) of the test for one URL: a test alert for Alertmanager (it fires now and
    resolves by its endsAt one resend later: an alert resolved at once would never pass
    Alertmanager's group_wait), a sentence for a channel."""
    host = socket.gethostname()
    if to_am and cfg.alertmanager is not None:
        msg = am.probe_alert(time.time(), cfg.alertmanager.resend, host)
        return msg.title, msg.body
    body = (
        f"Test message from riskwatch on {host} for channel "
        f"{label}. If you read this, riskwatch's alerts reach you here."
    )
    return TITLE, body
