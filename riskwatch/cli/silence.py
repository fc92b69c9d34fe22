"""``riskwatch silence add|list|expire``: silences in the state dir, shaped like amtool's.

Works on a running daemon's state dir (SQLite serialises the writers; the daemon reads the
silences every cycle), so a change applies within one cycle. Like ``status``, it needs no
secret: ``--state-dir``, or the rules file read with unset ``${VARS}`` tolerated.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from riskwatch import durations
from riskwatch.cli.status import _state_dir_of as state_dir_of
from riskwatch.cli.status import _when as when
from riskwatch.cli.status import table
from riskwatch.core.selfalerts import NAMES as BUILTINS
from riskwatch.core.silences import Silence
from riskwatch.errors import ConfigError, StoreError

if TYPE_CHECKING:
    from riskwatch.store.db import Store

SIDES = ("long", "short")


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="silence matching alerts for a while; prints the id")
    for name in ("rule", "symbol", "account"):
        add.add_argument(f"--{name}", default="", help=f"{name} glob (default: any)")
    add.add_argument("--side", choices=SIDES, default="", help="long or short (default: both)")
    add.add_argument("--for", dest="duration", required=True, help="e.g. 30m, 2h, 1d")
    add.add_argument("--comment", default="", help="why (shown by silence list)")
    lst = sub.add_parser("list", help="active silences (--all: also recently ended)")
    lst.add_argument("--all", action="store_true", help="include silences that ended")
    exp = sub.add_parser("expire", help="end a silence now")
    exp.add_argument("id", help="the silence id (or its unique beginning)")
    for q in (add, lst, exp):
        q.add_argument("-c", "--config", default=None, help="rules file (for its state_dir)")
        q.add_argument("--state-dir", help="this state dir instead of the config's")


def run(args: argparse.Namespace, out: TextIO | None = None, now: float | None = None) -> int:
    from riskwatch.store import silences as stored

    now = time.time() if now is None else now
    out = out or sys.stdout
    if args.action == "add":
        silence = _new(args, now)  # before opening: a bad --for creates nothing
    store = open_state(args, f"silence {args.action}")
    try:
        if args.action == "add":
            s = stored.add_silence(store, silence)
            print(s.id, file=out)
        elif args.action == "expire":
            s = stored.expire_silence(store, args.id, now)
            print(f"silence {s.id} ({s.matchers()}) expired", file=out)
        else:
            shown = stored.silences(store, now=None if args.all else now)
            print("\n".join(silence_table(shown, now)), file=out)
    finally:
        store.close()
    return 0


def open_state(args: argparse.Namespace, command: str) -> Store:
    """The state dir a daemon keeps, for ``silence`` and ``ack``: an existing one only. A
    mistyped ``--state-dir`` (or the wrong ``-c``) would otherwise create a new, empty state
    that no daemon reads, and the trader would believe the alert silenced."""
    from riskwatch.store.db import FILENAME, Store

    state_dir = args.state_dir or state_dir_of(args.config, sys.stderr, command)
    if not os.path.isfile(os.path.join(state_dir, FILENAME)):
        raise StoreError(
            f"state dir {state_dir}: no riskwatch state here (riskwatch run creates it);"
            " check --state-dir or -c"
        )
    return Store.open(state_dir, quarantine=False)  # a bad row is the daemon's to set aside


def _new(args: argparse.Namespace, now: float) -> Silence:
    try:
        seconds = durations.parse(args.duration)
    except ValueError as exc:
        raise ConfigError(f"silence add: --for: {exc}") from exc
    if seconds <= 0:
        raise ConfigError("silence add: --for must be longer than 0")
    if (rule := args.rule.strip().lower()) in BUILTINS:
        raise ConfigError(
            f"silence add: {rule} is never silenced; riskwatch ack {rule} stops its repeats"
        )
    return Silence(
        id="",
        starts_at=now,
        ends_at=now + seconds,
        rule=args.rule.strip(),
        symbol=args.symbol.strip(),
        side=args.side,
        account=args.account.strip(),
        comment=args.comment.strip(),
        created_by=_user(),
    )


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (DynamicUser): still say it came from here
        return "cli"


def silence_table(silences: Sequence[Silence], now: float) -> list[str]:
    if not silences:
        return ["No active silences."]
    rows = [
        (
            s.id,
            s.matchers(),
            when(s.ends_at) + ("" if s.active(now) else " (ended)"),
            s.created_by or "-",
            s.comment or "-",
        )
        for s in silences
    ]
    head = ("ID", "MATCHERS", "ENDS", "BY", "COMMENT")
    return [f"Silences ({len(silences)}):", *table(head, rows)]
