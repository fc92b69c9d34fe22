"""Shared pieces of the reliability suite: the fault ledger printed at the end of the run, the
secrets every test greps for, and small helpers to write rules files and start processes.

The ledger is session-wide: each test records what it injected and what arrived, and
``pytest_terminal_summary`` prints the totals so CI output shows them (faults injected, alerts
expected, delivered, lost, duplicated).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

# Channel token: the receiver URL carries it as basic-auth password, so apprise holds a secret
# that must never reach a log line, the outbox or the state file.
CHANNEL_TOKEN = "chantok-7Qw9xZ3pL0aT"


@dataclass
class Row:
    faults: int = 0
    expected: int = 0
    delivered: int = 0
    lost: int = 0
    duplicated: int = 0
    leaked: int = 0  # secrets found where they must not be (always 0: tests assert it)


@dataclass
class Ledger:
    """What the suite injected and observed, by category (exchange, channel, process, input)."""

    rows: dict[str, Row] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(
        self,
        category: str,
        *,
        faults: int = 0,
        expected: int = 0,
        delivered: int = 0,
        lost: int = 0,
        duplicated: int = 0,
        leaked: int = 0,
    ) -> None:
        with self.lock:
            row = self.rows.setdefault(category, Row())
            row.faults += faults
            row.expected += expected
            row.delivered += delivered
            row.lost += lost
            row.duplicated += duplicated
            row.leaked += leaked

    def lines(self) -> list[str]:
        head = (
            f"{'category':<10} {'faults':>7} {'expected':>9} {'delivered':>10} {'lost':>5} "
            f"{'dup':>5} {'leaked':>7}"
        )
        out = [head]
        total = Row()
        for name in sorted(self.rows):
            r = self.rows[name]
            out.append(_line(name, r))
            for attr in ("faults", "expected", "delivered", "lost", "duplicated", "leaked"):
                setattr(total, attr, getattr(total, attr) + getattr(r, attr))
        out.append(_line("total", total))
        return out


def _line(name: str, r: Row) -> str:
    return (
        f"{name:<10} {r.faults:>7} {r.expected:>9} {r.delivered:>10} {r.lost:>5} "
        f"{r.duplicated:>5} {r.leaked:>7}"
    )


LEDGER = Ledger()


@pytest.fixture(scope="session")
def ledger() -> Ledger:
    return LEDGER


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if not LEDGER.rows:
        return
    terminalreporter.section("reliability summary")
    for line in LEDGER.lines():
        terminalreporter.write_line(line)


def secrets() -> tuple[str, ...]:
    """Every secret the suite plants: none may appear in any output or in the state dir."""
    from riskwatch.exchange.fake.server import FakeBitget

    return (FakeBitget.API_KEY, FakeBitget.API_SECRET, FakeBitget.PASSPHRASE, CHANNEL_TOKEN)


def leaks(blobs: Iterable[bytes | str], extra: Iterable[str] = ()) -> int:
    """How many (blob, secret) pairs show a secret (the ledger's "leaked" column)."""
    found = 0
    for blob in blobs:
        data = blob.encode() if isinstance(blob, str) else blob
        found += sum(1 for s in (*secrets(), *extra) if s.encode() in data)
    return found


def assert_no_secrets(blobs: Iterable[bytes | str], where: str = "output") -> None:
    for blob in blobs:
        data = blob.encode() if isinstance(blob, str) else blob
        for s in secrets():
            assert s.encode() not in data, f"a secret leaked into {where}"


def state_bytes(state_dir: str | Path) -> list[bytes]:
    """The raw bytes of every file in the state dir (sqlite, WAL, shm)."""
    out = []
    for root, _dirs, files in os.walk(state_dir):
        for name in files:
            with open(os.path.join(root, name), "rb") as fh:
                out.append(fh.read())
    return out


def creds_env(base: dict[str, str] | None = None) -> dict[str, str]:
    from riskwatch.exchange.fake.server import FakeBitget

    env = dict(os.environ if base is None else base)
    env.update(FakeBitget.credentials_env())
    env.pop("CREDENTIALS_DIRECTORY", None)
    env.pop("NOTIFY_SOCKET", None)
    return env


# --------------------------------------------------------------------------- the rig

SYMBOL_RE = r"(?<![A-Za-z0-9_]){}(?![A-Za-z0-9_])"


def rules_text(
    base_url: str,
    state_dir: str,
    channel_url: str,
    *,
    poll: str = "1s",
    timeout: str = "1s",
    stale_after: str = "2m",
) -> str:
    """One near-liquidation rule, never repeated, no resolves: every firing line after the
    first for one alert is a duplicate."""
    return f"""\
exchange:
  api: v2
  base_url: {base_url}
  fallback_url: {base_url}
  product_types: [USDT-FUTURES]
  poll_interval: {poll}
  stale_after: {stale_after}
  timeout: {timeout}
state_dir: {state_dir}
channels:
  phone: ["{channel_url}"]
defaults:
  channels: [phone]
  repeat: "0"
  send_resolved: false
rules:
  - name: near-liquidation
    metric: liq_gap_pct
    op: "<"
    warning: 15
    critical: 5
"""


def add_safe_positions(fx, n: int) -> list[str]:
    """``n`` positions 30 % from liquidation (safe); returns their symbols."""
    symbols = []
    for i in range(n):
        symbol = f"S{i}USDT"
        fx.add_position(symbol, "long", mark="100", liquidation="70", leverage=3)
        symbols.append(symbol)
    return symbols


def endanger(fx, symbol: str) -> None:
    """Mark 10 % from liquidation: a warning under the 15 % rule."""
    fx.set_mark(symbol, "77.7778")


def fired(bodies: Iterable[str], symbol: str) -> int:
    """How many firing (not resolved) lines name ``symbol`` across ``bodies``."""
    import re

    pat = re.compile(SYMBOL_RE.format(re.escape(symbol)))
    return sum(
        1
        for body in bodies
        for line in body.splitlines()
        if pat.search(line) and "resolved" not in line.lower()
    )


def tally(ledger: Ledger, category: str, bodies: list[str], symbols: list[str], faults: int) -> Row:
    """Record expected/delivered/lost/duplicated for alerts on ``symbols``; return the row."""
    counts = [fired(bodies, s) for s in symbols]
    row = Row(
        faults=faults,
        expected=len(symbols),
        delivered=sum(1 for c in counts if c),
        lost=sum(1 for c in counts if not c),
        duplicated=sum(max(0, c - 1) for c in counts),
    )
    ledger.record(category, **row.__dict__)
    return row


class LogTap:
    """A root handler at DEBUG with riskwatch's own redacting formatter (as ``logs.configure``
    sets up), apprise and urllib3 held at WARNING as in production: what a user would see."""

    def __init__(self) -> None:
        import io
        import logging

        from riskwatch import logs

        self.buf = io.StringIO()
        self.handler = logging.StreamHandler(self.buf)
        self.handler.setFormatter(logs._RedactingFormatter("%(levelname)s %(name)s: %(message)s"))
        self.handler.setLevel(logging.DEBUG)
        root = logging.getLogger()
        self._saved = (root.level, {n: logging.getLogger(n).level for n in ("apprise", "urllib3")})
        root.addHandler(self.handler)
        root.setLevel(logging.DEBUG)
        for n in ("apprise", "urllib3"):
            logging.getLogger(n).setLevel(logging.WARNING)

    def text(self) -> str:
        return self.buf.getvalue()

    def close(self) -> None:
        import logging

        root = logging.getLogger()
        root.removeHandler(self.handler)
        root.setLevel(self._saved[0])
        for n, level in self._saved[1].items():
            logging.getLogger(n).setLevel(level)


@pytest.fixture
def logtap():
    tap = LogTap()
    yield tap
    tap.close()


class Rig:
    """The production wiring (``wire``) against a FakeBitget and a Receiver, cycles driven by
    the test (no timing assumptions: a test runs cycles until a condition holds or a bound)."""

    def __init__(self, tmp_path: Path, fx, rx, url_query: dict | None = None, **rules) -> None:
        from riskwatch.config import load as config
        from riskwatch.service.wiring import wire

        self.fx, self.rx = fx, rx
        self.state_dir = tmp_path / "state"
        self.path = tmp_path / "rules.yaml"
        url = rx.url_for(user="rw", password=CHANNEL_TOKEN, **(url_query or {}))
        self.path.write_text(rules_text(fx.url, str(self.state_dir), url, **rules))
        env = creds_env()
        self.cfg = config.load(str(self.path), environ=env)
        self.out = io_sink()
        self.wired = wire(self.cfg, environ=env, out=self.out)
        self.outcomes = []

    def cycle(self):
        outcome = self.wired.watcher.cycle()
        self.wired.hooks.delivered(outcome)
        self.outcomes.append(outcome)
        return outcome

    def until(self, done, *, cycles: int = 20, settle: float = 1.0) -> bool:
        """Run cycles until ``done()`` (checked after delivery has had ``settle`` s)."""
        import time

        for _ in range(cycles):
            self.cycle()
            end = time.monotonic() + settle
            while time.monotonic() < end:
                if done():
                    return True
                time.sleep(0.02)
        return done()

    def close(self) -> None:
        self.wired.close()


def io_sink():
    import io

    return io.StringIO()
