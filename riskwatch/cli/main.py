"""Command line: parse, set up logging, dispatch, map errors to exit codes. Nothing else.

Each command lives in ``riskwatch/cli/<name>.py`` as ``run(args) -> int`` and is imported
only when chosen, so ``riskwatch check`` never pays for apprise or requests.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from riskwatch import __version__, logs
from riskwatch.errors import (
    AuthError,
    ConfigError,
    CredentialsError,
    ExchangeError,
    RiskwatchError,
    StoreError,
)

EXIT_OK, EXIT_INVALID, EXIT_REFUSED, EXIT_UNREACHABLE = 0, 1, 3, 4
log = logging.getLogger("riskwatch")

COMMANDS: dict[str, str] = {
    "run": "the daemon: poll, evaluate, alert (--once: one cycle; --dry-run: print only)",
    "check": "validate the rules file; exit 0 valid, 1 invalid",
    "positions": "fetch once and print positions, their metrics and matching rules",
    "test-notify": "send a test message to each channel and report per URL",
    "status": "firing alerts and undelivered messages, from the state dir",
    "history": "what was sent when, and whether it arrived, from the state dir",
    "silence": "add, list or expire silences (works on a running daemon)",
    "ack": "acknowledge a firing alert: no repeats until it escalates, worsens or resolves",
    "schema": "print the JSON Schema of the rules file",
    "demo": "simulated exchange + the real daemon, alerts on the console",
}


def default_config_path() -> str:
    return os.environ.get("RISKWATCH_CONFIG") or "rules.yaml"


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--log-level", choices=logs.LEVELS, default=argparse.SUPPRESS, help="default: info"
    )
    parser = argparse.ArgumentParser(
        prog="riskwatch",
        description="Watches a Bitget futures account and warns before liquidation.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"riskwatch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    cmds = {name: sub.add_parser(name, help=h, parents=[common]) for name, h in COMMANDS.items()}
    for name in ("run", "check", "positions", "test-notify", "status", "history"):
        cmds[name].add_argument(
            "-c",
            "--config",
            default=None,
            help="rules file (default: $RISKWATCH_CONFIG, else ./rules.yaml)",
        )
    cmds["run"].add_argument("--once", action="store_true", help="run one cycle, then exit")
    cmds["run"].add_argument(
        "--dry-run", action="store_true", help="print messages instead of sending; write no state"
    )
    cmds["test-notify"].add_argument("--channel", help="only this channel")
    cmds["status"].add_argument("--state-dir", help="read this state dir instead of the config's")
    h = cmds["history"]
    h.add_argument("--since", default="24h", help="how far back, a duration (default: 24h)")
    h.add_argument("--rule", help="only lines of rules matching this glob")
    h.add_argument("--symbol", help="only lines of symbols (or margin coins) matching this glob")
    h.add_argument("--json", action="store_true", help="one JSON list of records")
    h.add_argument("--state-dir", help="read this state dir instead of the config's")
    for name in ("silence", "ack"):  # their arguments live with them
        importlib.import_module(f"riskwatch.cli.{name}").add_arguments(cmds[name])
    cmds["demo"].add_argument(
        "--duration", type=float, default=None, help="stop after SECONDS (default: until Ctrl-C)"
    )
    cmds["demo"].add_argument(
        "--feed",
        choices=("poll", "stream"),
        default="poll",
        help="poll: REST every 1s; stream: WebSocket marks with a 10s poll (riskwatch[stream])",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help is 0, bad usage is 2
        return int(exc.code or 0)
    args.config_given = getattr(args, "config", None) is not None
    if getattr(args, "config", "absent") is None:
        args.config = default_config_path()
    logs.configure(getattr(args, "log_level", "info"))
    module = importlib.import_module(f"riskwatch.cli.{args.command.replace('-', '')}")
    try:
        return int(module.run(args))
    except KeyboardInterrupt:
        return EXIT_OK
    except RiskwatchError as exc:
        return report(exc)


def report(exc: RiskwatchError) -> int:
    """Say what went wrong in a line (or one line per config problem); return the exit code."""
    if isinstance(exc, ConfigError):
        for problem in exc.problems:
            print(logs.redact(problem), file=sys.stderr)
        return EXIT_INVALID
    if isinstance(exc, AuthError):
        print(f"riskwatch: exchange refused the credentials: {exc.explanation}", file=sys.stderr)
        return EXIT_REFUSED
    if isinstance(exc, ExchangeError):
        print(logs.redact(f"riskwatch: exchange unreachable: {exc}"), file=sys.stderr)
        return EXIT_UNREACHABLE
    if isinstance(exc, CredentialsError | StoreError):
        print(logs.redact(f"riskwatch: {exc}"), file=sys.stderr)
        return EXIT_INVALID
    print(logs.redact(f"riskwatch: {exc}"), file=sys.stderr)
    return EXIT_INVALID


if __name__ == "__main__":
    sys.exit(main())
