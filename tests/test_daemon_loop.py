"""The daemon loop with its clock, wait and watcher faked: scheduling, backoff, reload, notify."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field, replace
from types import SimpleNamespace

import pytest

from riskwatch.errors import AuthError, ConfigError, StoreError, Unreachable
from riskwatch.model import Config, ExchangeSettings, Health
from riskwatch.service.cycle import Outcome
from riskwatch.service.daemon import Daemon, Hooks
from riskwatch.service.sdnotify import Notifier


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@dataclass
class FakeWatcher:
    clock: Clock
    cycle_cost: float = 0.0
    refuse: bool = False
    raises: list[Exception] = field(default_factory=list)  # raised by the next cycles, in turn
    errors: list[Exception] = field(default_factory=list)  # the next cycles' poll errors
    cfg: Config = field(
        default_factory=lambda: Config(
            path="r.yaml", exchange=ExchangeSettings(poll_interval=10, stale_after=1200)
        )
    )
    started: list[float] = field(default_factory=list)
    health: Health = field(default_factory=Health)
    state: dict = field(default_factory=dict)
    last_snapshot: None = None
    applied: list[Config] = field(default_factory=list)
    config_errors: list[str | None] = field(default_factory=list)

    def cycle(self) -> Outcome:
        self.started.append(self.clock.t)
        self.clock.t += self.cycle_cost
        if self.raises:
            raise self.raises.pop(0)
        error = AuthError("refused", code="40006", explanation="wrong key") if self.refuse else None
        if self.errors:
            error = self.errors.pop(0)
        return Outcome(self.clock.t, self.cycle_cost, None, error, (), (), 0)

    @property
    def accounts(self) -> list[SimpleNamespace]:  # the one account, as the Watcher has it
        return [
            SimpleNamespace(name="default", last_snapshot=self.last_snapshot, health=self.health)
        ]

    def apply_config(self, cfg: Config) -> Config:
        self.applied.append(cfg)
        return cfg

    def set_config_error(self, problem: str | None) -> None:
        self.config_errors.append(problem)
        self.health = replace(self.health, config_error=problem)


def make_daemon(watcher: FakeWatcher, clock: Clock, *, cycles: int, path="missing.yaml", **kw):
    """A daemon whose wait advances the fake clock and stops after ``cycles`` cycles."""
    d: Daemon

    def wait(seconds: float) -> bool:
        clock.t += max(seconds, 0.001)
        if len(watcher.started) >= cycles:
            d.stop.set()
        return d.stop.is_set()

    d = Daemon(path, watcher, Hooks(), monotonic=clock, wait=wait, **kw)
    return d


def test_fixed_rate_a_slow_cycle_shortens_the_next_sleep():
    clock = Clock()
    watcher = FakeWatcher(clock, cycle_cost=3.0)
    make_daemon(watcher, clock, cycles=5).loop()
    gaps = [b - a for a, b in zip(watcher.started, watcher.started[1:], strict=False)]
    assert gaps == pytest.approx([10.0] * 4)


def test_a_cycle_longer_than_the_interval_skips_ticks_instead_of_bursting():
    clock = Clock()
    watcher = FakeWatcher(clock, cycle_cost=25.0)
    make_daemon(watcher, clock, cycles=4).loop()
    gaps = [b - a for a, b in zip(watcher.started, watcher.started[1:], strict=False)]
    assert all(g == pytest.approx(30.0) for g in gaps), gaps


def test_refusals_back_off_but_never_stop_polling():
    clock = Clock()
    watcher = FakeWatcher(clock, refuse=True)
    make_daemon(watcher, clock, cycles=6).loop()
    gaps = [b - a for a, b in zip(watcher.started, watcher.started[1:], strict=False)]
    assert gaps == pytest.approx([10, 20, 40, 80, 160])
    assert len(watcher.started) == 6


def test_a_retry_after_longer_than_the_cycle_is_honoured_once():
    clock = Clock()
    told = Unreachable("429 for too long", retry_after=45.0)
    watcher = FakeWatcher(clock, errors=[told, Unreachable("down", retry_after=9999.0)])
    make_daemon(watcher, clock, cycles=4).loop()
    gaps = [b - a for a, b in zip(watcher.started, watcher.started[1:], strict=False)]
    assert gaps == pytest.approx([45, 300, 10])


def test_a_failed_cycle_is_retried_at_the_next_tick(caplog):
    clock = Clock()
    watcher = FakeWatcher(clock, raises=[StoreError("state.sqlite: database or disk is full")])
    d = make_daemon(watcher, clock, cycles=3)
    d.loop()
    assert len(watcher.started) == 3 and d.failed is None
    assert (
        "state dir full or unwritable: alerts held, nothing lost yet: state.sqlite: database"
        in caplog.text
    )


def test_an_internal_error_stops_the_loop_for_a_restart(caplog):
    clock = Clock()
    watcher = FakeWatcher(clock, raises=[ZeroDivisionError("boom")])
    d = make_daemon(watcher, clock, cycles=5)
    d.loop()
    assert len(watcher.started) == 1 and isinstance(d.failed, ZeroDivisionError)
    assert d.stop.is_set()
    assert "internal error, stopping: ZeroDivisionError: boom" in caplog.text


def test_sighup_reload_of_a_broken_file_keeps_running_and_reports_the_error(tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules: [\n")
    clock = Clock()
    watcher = FakeWatcher(clock)
    d = make_daemon(watcher, clock, cycles=3, path=str(rules))
    d.hup.set()
    d.loop()
    assert watcher.config_errors, "a broken reload must be reported to the watcher"
    assert str(rules) in watcher.config_errors[0]
    assert watcher.applied == []
    assert len(watcher.started) == 3


def test_a_changed_file_is_reloaded_without_a_signal(tmp_path, monkeypatch):
    rules = tmp_path / "rules.yaml"
    rules.write_text("# v1\n")
    clock = Clock()
    watcher = FakeWatcher(clock)
    d = make_daemon(watcher, clock, cycles=4, path=str(rules))
    loaded: list[str] = []

    def fake_load(path, environ=None):
        loaded.append(path)
        raise ConfigError(f"{path}:1:1: rules: required")

    monkeypatch.setattr("riskwatch.service.daemon.config_mod.load", fake_load)
    rules.write_text("# v2, longer\n")
    d.loop()
    assert loaded == [str(rules)]
    assert watcher.config_errors == [f"{rules}:1:1: rules: required"]


class RecordingNotifier(Notifier):
    """The real Notifier's formatting, recorded instead of sent (the socket is tested below)."""

    def __init__(self, environ: dict[str, str]) -> None:
        super().__init__(environ)
        self.sent: list[dict[str, str]] = []

    def send(self, **fields: str) -> None:
        self.sent.append(fields)


def test_the_loop_tells_systemd_ready_status_watchdog_and_reloading(tmp_path):
    sd = RecordingNotifier({"NOTIFY_SOCKET": "/unused", "WATCHDOG_USEC": "4000000"})
    clock = Clock()
    watcher = FakeWatcher(clock)
    d = make_daemon(watcher, clock, cycles=2, notifier=sd, path=str(tmp_path / "none.yaml"))
    d.loop()
    d.hup.set()
    d._maybe_reload()
    assert sd.sent[0]["ready"] == "1"
    assert sd.sent[0]["status"].startswith("0 positions, 0 firing, last good poll never")
    assert {"watchdog": "1"} in sd.sent
    assert any("status" in f and "ready" not in f for f in sd.sent), "a status per later cycle"
    reloading = [i for i, f in enumerate(sd.sent) if f.get("reloading") == "1"]
    assert len(reloading) == 1 and int(sd.sent[reloading[0]]["monotonic_usec"]) > 0
    after = sd.sent[reloading[0] + 1]
    assert after["ready"] == "1"
    assert "; running on the last good rules: " in after["status"]
    assert "none.yaml: cannot read" in after["status"]


def test_ready_follows_a_first_cycle_that_failed():
    sd = RecordingNotifier({"NOTIFY_SOCKET": "/unused"})
    clock = Clock()
    watcher = FakeWatcher(clock, raises=[StoreError("state.sqlite: disk I/O error")] * 2)
    make_daemon(watcher, clock, cycles=2, notifier=sd).loop()
    assert len(watcher.started) == 2
    assert [f["ready"] for f in sd.sent if "ready" in f] == ["1"], "READY once, after attempt 1"


def test_a_reload_that_fails_on_the_store_keeps_the_loop_running(tmp_path, monkeypatch, caplog):
    rules = tmp_path / "rules.yaml"
    rules.write_text("# v1\n")
    clock = Clock()
    watcher = FakeWatcher(clock)
    d = make_daemon(watcher, clock, cycles=4, path=str(rules))
    cfg = Config(path=str(rules), exchange=ExchangeSettings(poll_interval=10))
    monkeypatch.setattr("riskwatch.service.daemon.config_mod.load", lambda path, environ=None: cfg)

    def reconfigure(new: Config) -> None:
        raise StoreError("state.sqlite: database is locked")

    d.hooks.reconfigure = reconfigure
    d.hup.set()
    d.loop()
    assert len(watcher.started) == 4 and d.failed is None
    assert "reload incomplete, will try again on the next change" in caplog.text


def test_notify_datagrams_reach_the_socket_as_key_value_lines(tmp_path):
    addr = str(tmp_path / "notify.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(addr)
    server.settimeout(1)
    sd = Notifier({"NOTIFY_SOCKET": addr, "WATCHDOG_USEC": "4000000"})
    sd.ready("3 positions")
    sd.watchdog()
    sd.reloading()
    got = [server.recv(4096).decode() for _ in range(3)]
    server.close()
    assert got[0] == "READY=1\nSTATUS=3 positions"
    assert got[1] == "WATCHDOG=1"
    assert got[2].startswith("RELOADING=1\nMONOTONIC_USEC=")


def test_a_full_notify_socket_never_blocks_the_loop(tmp_path):
    addr = str(tmp_path / "notify.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(addr)  # never read: its queue fills after a few datagrams
    sd = Notifier({"NOTIFY_SOCKET": addr})
    for _ in range(500):
        sd.status("x" * 100)
    server.settimeout(1)
    assert server.recv(4096) == b"STATUS=" + b"x" * 100
    server.close()


def test_naps_are_capped_by_half_the_watchdog_interval():
    sd = Notifier({"NOTIFY_SOCKET": "/nonexistent", "WATCHDOG_USEC": "1000000"})
    d = Daemon("x.yaml", FakeWatcher(Clock()), Hooks(), notifier=sd)
    assert d._nap(30.0) == 0.5
    assert d._nap(-1.0) == 0.0


def test_status_line_says_an_account_mode_in_transition():
    from riskwatch.exchange.accountmode import InTransition
    from riskwatch.model import Snapshot

    clock = Clock()
    watcher = FakeWatcher(clock)
    d = make_daemon(watcher, clock, cycles=1)
    refused = InTransition("x", transition="switching", code="40085", endpoint="/p")
    failed = Outcome(clock.t, 0.0, None, refused, (), (), 0)
    assert "account switching between classic and unified mode" in d.status_line(failed)
    watcher.last_snapshot = Snapshot(taken_at=1.0, account_transition="upgrading")  # type: ignore[assignment]
    assert "account upgrading between" in d.status_line(None)
    watcher.last_snapshot = None
    assert "between classic" not in d.status_line(None)
