"""``riskwatch history``: what riskwatch said, when, and what became of each message.

Answers "what did it send at 03:00, and did it arrive?" from the state dir alone: every line
and event, and per URL (by channel and destination key, never the URL itself: the state dir
holds no secret) whether and when it was delivered, failed or dropped. Like ``status`` it needs
no credentials and tolerates unset ``${VARS}``; ``-c`` gives it the state dir and the timezone.
Filters (``--rule``, ``--symbol``, ``--account``: globs, case-insensitive) select lines and
events; a delivery is shown with the lines it carried.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import sys
import time
import zoneinfo
from collections.abc import Sequence
from datetime import datetime, tzinfo
from typing import TextIO

from riskwatch import durations
from riskwatch.errors import ConfigError
from riskwatch.render.words import plural
from riskwatch.store import history
from riskwatch.store.db import FILENAME, Store

_SAID = (history.LINE, history.EVENT)


def run(args: argparse.Namespace, out: TextIO | None = None, now: float | None = None) -> int:
    state_dir, zone = _where(args)
    try:
        since = durations.parse(args.since)
    except ValueError as exc:
        raise ConfigError(f"--since: {exc}") from exc
    now = time.time() if now is None else now
    records = read(state_dir, now - since)
    shown = select(
        records, rule=args.rule, symbol=args.symbol, account=getattr(args, "account", None)
    )
    if args.json:
        print(json.dumps([_plain(r, zone) for r in shown], indent=1), file=out)
    else:
        print("\n".join(text(shown, zone, state_dir, args.since)), file=out)
    return 0


def _where(args: argparse.Namespace) -> tuple[str, tzinfo]:
    """The state dir and the zone to show times in (``--state-dir`` wins; UTC without -c)."""
    from riskwatch.config import load as config

    zone: tzinfo = zoneinfo.ZoneInfo("UTC")
    if args.state_dir and not getattr(args, "config_given", False):
        return args.state_dir, zone
    try:
        cfg = config.load(args.config, strict_env=False)
    except ConfigError as exc:
        if args.state_dir:
            return args.state_dir, zone
        fallback = config.default_state_dir(os.environ)
        print(
            f"history: the rules file could not be used ({exc.problems[0]}); "
            f"showing the default state dir {fallback}",
            file=sys.stderr,
            flush=True,
        )
        return fallback, zone
    return args.state_dir or cfg.state_dir, zoneinfo.ZoneInfo(cfg.timezone)


def read(state_dir: str, since: float) -> list[history.Record]:
    if not os.path.exists(os.path.join(state_dir, FILENAME)):
        return []
    store = Store.open(state_dir, quarantine=False)  # a bad row is the daemon's to set aside
    try:
        return store.read_history(since)
    finally:
        store.close()


def _match(glob: str | None, value: str) -> bool:
    return glob is None or fnmatch.fnmatchcase(value.lower(), glob.lower())


def select(
    records: Sequence[history.Record],
    *,
    rule: str | None = None,
    symbol: str | None = None,
    account: str | None = None,
) -> list[history.Record]:
    """The lines and events the globs admit (``account``: DESIGN 14), and the delivery
    outcomes of their messages (all outcomes when no glob is given)."""
    if rule is None and symbol is None and account is None:
        return list(records)
    said = [
        r
        for r in records
        if r.kind in _SAID
        and _match(rule, r.rule)
        and _match(symbol, r.subject)
        and _match(account, r.account)
    ]
    cycles = {(r.at, c) for r in said for c in r.channel.split(",")}
    outcomes = [r for r in records if r.kind not in _SAID and (r.queued_at, r.channel) in cycles]
    return sorted(said + outcomes, key=lambda r: r.at)


def _when(at: float, zone: tzinfo) -> str:
    moment = datetime.fromtimestamp(at, zone)
    return f"{moment:%Y-%m-%d %H:%M:%S} {moment.tzname()}"


def text(records: Sequence[history.Record], zone: tzinfo, state_dir: str, since: str) -> list[str]:
    if not records:
        return [f"state dir {state_dir}: nothing in the last {since}"]
    lines = []
    for r in records:
        when = _when(r.at, zone)
        if r.kind in _SAID:
            lines.append(f"{when}  {r.text}")
        else:
            where = f"{r.channel or '-'} ({r.dest_key[:10]})"
            lines.append(f"{when}    {r.kind} to {where}: {r.what}; {r.text}")
    said = sum(1 for r in records if r.kind in _SAID)
    lines.append(f"{plural(said, 'line')}, {plural(len(records) - said, 'delivery outcome')}")
    return lines


def _plain(r: history.Record, zone: tzinfo) -> dict[str, object]:
    out = r.to_dict()
    out["time"] = datetime.fromtimestamp(r.at, zone).isoformat()
    return out
