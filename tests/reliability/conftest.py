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
    ) -> None:
        with self.lock:
            row = self.rows.setdefault(category, Row())
            row.faults += faults
            row.expected += expected
            row.delivered += delivered
            row.lost += lost
            row.duplicated += duplicated

    def lines(self) -> list[str]:
        head = (
            f"{'category':<10} {'faults':>7} {'expected':>9} {'delivered':>10} {'lost':>5} "
            f"{'dup':>5}"
        )
        out = [head]
        total = Row()
        for name in sorted(self.rows):
            r = self.rows[name]
            out.append(
                f"{name:<10} {r.faults:>7} {r.expected:>9} {r.delivered:>10} {r.lost:>5} "
                f"{r.duplicated:>5}"
            )
            for attr in ("faults", "expected", "delivered", "lost", "duplicated"):
                setattr(total, attr, getattr(total, attr) + getattr(r, attr))
        out.append(
            f"{'total':<10} {total.faults:>7} {total.expected:>9} {total.delivered:>10} "
            f"{total.lost:>5} {total.duplicated:>5}"
        )
        return out


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
    from riskwatch.exchange.fake import FakeBitget

    return (FakeBitget.API_KEY, FakeBitget.API_SECRET, FakeBitget.PASSPHRASE, CHANNEL_TOKEN)


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
    from riskwatch.exchange.fake import FakeBitget

    env = dict(os.environ if base is None else base)
    env.update(
        BITGET_API_KEY=FakeBitget.API_KEY,
        BITGET_API_SECRET=FakeBitget.API_SECRET,
        BITGET_API_PASSPHRASE=FakeBitget.PASSPHRASE,
    )
    env.pop("CREDENTIALS_DIRECTORY", None)
    env.pop("NOTIFY_SOCKET", None)
    return env
