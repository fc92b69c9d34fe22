"""Command line: parse, set up logging, dispatch, map errors to exit codes. Nothing else.

Each command lives in ``riskwatch/cli/<name>.py`` as ``run(args) -> int`` and is imported
only when chosen, so ``riskwatch check`` never pays for apprise or requests.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from riskwatch import __version__, logs
from riskwatch.errors import (
    AuthError,
    ConfigError,
    CredentialsError,
    ExchangeError,
    RiskwatchError,
    StoreError,
    Unreachable,
)

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_REFUSED, EXIT_UNREACHABLE = 0, 1, 2, 3, 4
EXIT_NOT_DELIVERED, EXIT_SIGINT, EXIT_SIGTERM = 5, 130, 143
# The one exit-code table: README.md's copy is compared with it by a test, and --help shows it.
EXIT_CODES: tuple[tuple[int, str], ...] = (
    (EXIT_OK, "ok (the daemon also exits 0 on SIGTERM / SIGINT)"),
    (
        EXIT_INVALID,
        "invalid rules file or input, missing credentials, state dir unusable, "
        "another daemon holds the state dir, or check --strict found lint warnings",
    ),
    (EXIT_USAGE, "usage error (unknown option, bad argument)"),
    (EXIT_REFUSED, "the exchange refused the credentials (positions, run --once)"),
    (EXIT_UNREACHABLE, "the exchange stayed unreachable (positions, run --once)"),
    (EXIT_NOT_DELIVERED, "test-notify: a URL did not accept the test message"),
    (EXIT_SIGINT, "interrupted by Ctrl-C (SIGINT) before it finished"),
    (EXIT_SIGTERM, "interrupted by SIGTERM before it finished"),
)
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


# The demo shows its alerts on the console: its INFO log lines would repeat each one there.
_DEFAULT_LOG_LEVEL = {"demo": "warning"}


def default_config_path() -> str:
    return os.environ.get("RISKWATCH_CONFIG") or "rules.yaml"


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--log-level",
        choices=logs.LEVELS,
        default=argparse.SUPPRESS,
        help="default: info (demo: warning)",
    )
    parser = argparse.ArgumentParser(
        prog="riskwatch",
        description="Watches a Bitget futures account and warns before liquidation.",
        parents=[common],
        epilog="exit codes:\n" + "\n".join(f"  {code:<4} {text}" for code, text in EXIT_CODES),
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
    cmds["check"].add_argument(
        "--strict", action="store_true", help="exit 1 when there is any lint warning"
    )
    cmds["test-notify"].add_argument("--channel", help="only this channel")
    cmds["status"].add_argument("--state-dir", help="read this state dir instead of the config's")
    h = cmds["history"]
    h.add_argument("--since", default="24h", help="how far back, a duration (default: 24h)")
    h.add_argument("--rule", help="only lines of rules matching this glob")
    h.add_argument("--symbol", help="only lines of symbols (or margin coins) matching this glob")
    h.add_argument("--account", help="only lines of accounts matching this glob")
    h.add_argument("--json", action="store_true", help="one JSON list of records")
    h.add_argument("--state-dir", help="read this state dir instead of the config's")
    for name in ("silence", "ack"):  # their arguments live with them
        importlib.import_module(f"riskwatch.cli.{name}").add_arguments(cmds[name])
    cmds["demo"].add_argument(
        "--duration",
        type=positive_seconds,
        default=None,
        help="stop after SECONDS, more than 0 (default: until Ctrl-C)",
    )
    cmds["demo"].add_argument(
        "--feed",
        choices=("poll", "stream"),
        default="poll",
        help="poll: REST every 1s; stream: WebSocket marks with a 10s poll (riskwatch[stream])",
    )
    return parser


def positive_seconds(text: str) -> float:
    """argparse type: a finite number of seconds above 0 (0 would mean "forever" to a timer)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of seconds above 0")
    return value


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C's KeyboardInterrupt, so that ``finally``
    blocks close what the command opened before it exits 143."""


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help is 0, bad usage is 2
        return int(exc.code or 0)
    args.config_given = getattr(args, "config", None) is not None
    if getattr(args, "config", "absent") is None:
        args.config = default_config_path()
    logs.configure(getattr(args, "log_level", _DEFAULT_LOG_LEVEL.get(args.command, "info")))
    previous = signal.signal(signal.SIGTERM, _terminate)  # the daemon installs its own
    try:
        module = importlib.import_module(f"riskwatch.cli.{args.command.replace('-', '')}")
        return int(module.run(args))
    except KeyboardInterrupt as exc:  # a cron job must not read an interrupted run as success
        print("interrupted", file=sys.stderr, flush=True)
        return EXIT_SIGTERM if isinstance(exc, Terminated) else EXIT_SIGINT
    except RiskwatchError as exc:
        return report(exc)
    finally:
        signal.signal(signal.SIGTERM, previous)


def report(exc: RiskwatchError) -> int:
    """Say what went wrong in a line (or one line per config problem); return the exit code."""
    if isinstance(exc, ConfigError):
        for problem in exc.problems:
            print(logs.redact(problem), file=sys.stderr)
        return EXIT_INVALID
    if isinstance(exc, AuthError):
        print(f"riskwatch: exchange refused the credentials: {exc.explanation}", file=sys.stderr)
        return EXIT_REFUSED
    if isinstance(exc, ExchangeError):  # it answered, but not usefully: not "unreachable"
        what = "exchange unreachable" if isinstance(exc, Unreachable) else "exchange error"
        print(logs.redact(f"riskwatch: {what}: {exc}"), file=sys.stderr)
        return EXIT_UNREACHABLE
    if isinstance(exc, CredentialsError | StoreError):
        print(logs.redact(f"riskwatch: {exc}"), file=sys.stderr)
        return EXIT_INVALID
    print(logs.redact(f"riskwatch: {exc}"), file=sys.stderr)
    return EXIT_INVALID


def console() -> None:
    """The ``riskwatch`` program: ``main``, then the process ends at once (``exit_now``).
    ``main`` itself returns, so a test or an embedding caller keeps its process."""
    exit_now(main())


def exit_now(code: int) -> None:
    """End the process once the command returned (the daemon stopped cleanly: state committed,
    store closed). A send abandoned at shutdown may still sit in a library's worker thread
    (apprise runs sends in a thread pool, which the interpreter joins at exit): waiting for it
    would let a stalled service hold SIGTERM for as long as it trickles. Logs and both streams
    are flushed first."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    console()
