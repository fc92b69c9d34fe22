"""The pieces that keep a daemon watching through a config error, in-process and fast:
the last-good copy, the run loader (apprise URL check), the state-dir lock, the holding loop."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from riskwatch.cli import run
from riskwatch.config import lastgood
from riskwatch.errors import AlreadyRunning, ConfigError
from riskwatch.service.holding import Holding
from riskwatch.service.keeper import Keeper as _Keeper
from riskwatch.service.statelock import StateLock

GOOD = """\
state_dir: state
channels: {rx: ["${RX_URL}"]}
defaults: {channels: [rx]}
rules:
  - {name: a, metric: liq_gap_pct, op: "<", warning: 5}
"""
ENV = {"RX_URL": "json://127.0.0.1:9/"}


def Keeper(path: str, environ: dict[str, str]) -> _Keeper:
    """The keeper exactly as ``riskwatch run`` builds it."""
    return _Keeper(path, environ, checked=run._checked, quick=run._quick)


def write(tmp_path: Path, text: str) -> str:
    f = tmp_path / "rules.yaml"
    f.write_text(text)
    return str(f)


def test_the_copy_is_kept_as_written_only_once_the_lock_is_held(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    keeper = Keeper(path, ENV)
    cfg = keeper.load(path)
    assert cfg.state_dir == str(tmp_path / "state")
    assert lastgood.read(cfg.state_dir) is None  # not before the lock
    keeper.locked()
    assert lastgood.read(cfg.state_dir) is None  # not before the daemon adopted it
    keeper.adopted()
    copy = lastgood.read(cfg.state_dir)
    assert copy == GOOD and "json://" not in copy


def test_run_and_reload_refuse_a_url_apprise_cannot_use(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    with pytest.raises(ConfigError) as info:
        Keeper(path, {"RX_URL": "bogus://nothing/here"}).load(path)  # a reload
    assert "channels.rx[0]: this URL is not usable by apprise" in info.value.problems[0]


def test_at_start_the_url_check_follows_the_first_poll_and_decides_the_copy(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, GOOD)
    bad = Keeper(path, {"RX_URL": "bogus://nothing/here"})
    bad.locked()
    cfg = bad.load(path, quick=True)  # no apprise on the way to the first poll
    assert lastgood.read(cfg.state_dir) is None
    problem = bad.verify()
    assert problem and "this URL is not usable by apprise" in problem
    assert lastgood.read(cfg.state_dir) is None  # never kept as good
    good = Keeper(path, ENV)
    good.locked()
    good.load(path, quick=True)
    assert lastgood.read(cfg.state_dir) is None and good.verify() is None
    assert lastgood.read(cfg.state_dir) == GOOD


def test_a_literal_url_keeps_no_copy_and_says_why(tmp_path: Path, caplog) -> None:
    path = write(tmp_path, GOOD.replace("${RX_URL}", "json://127.0.0.1:9/"))
    keeper = Keeper(path, {})
    keeper.locked()
    cfg = keeper.load(path)
    keeper.adopted()
    assert lastgood.read(cfg.state_dir) is None
    assert "channels.rx[0] is written literally and may hold a token" in caplog.text


def test_a_broken_file_falls_back_to_the_copy_and_finds_its_state_dir(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    keeper = Keeper(path, ENV)
    keeper.locked()
    keeper.load(path)
    keeper.adopted()
    write(tmp_path, GOOD.replace('op: "<"', 'op: "=<"'))
    with pytest.raises(ConfigError):
        keeper.load(path)
    assert lastgood.locate_state_dir(path, {}) == str(tmp_path / "state")
    cfg = Keeper(path, ENV).fallback()
    assert cfg is not None and cfg.path == path and [r.name for r in cfg.rules] == ["a"]
    assert cfg.state_dir == str(tmp_path / "state")  # relative to the file, not the copy


def test_no_copy_means_no_fallback(tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.ERROR)
    path = write(tmp_path, "rules: [")
    assert Keeper(path, {"STATE_DIRECTORY": str(tmp_path / "s")}).fallback() is None
    assert "no last good copy in" in caplog.text


def test_a_second_lock_on_the_state_dir_names_the_holder(tmp_path: Path) -> None:
    first = StateLock.acquire(str(tmp_path), pid=4242)
    with pytest.raises(AlreadyRunning) as info:
        StateLock.acquire(str(tmp_path))
    assert "another riskwatch daemon (pid 4242) is running on the state dir" in str(info.value)
    first.release()
    StateLock.acquire(str(tmp_path)).release()  # released: free again


class FakeNotifier:
    watchdog_interval = 0.0

    def __init__(self) -> None:
        self.sent: list[str] = []

    def ready(self, status: str = "") -> None:
        self.sent.append(f"READY {status}")

    def status(self, text: str) -> None:
        self.sent.append(f"STATUS {text}")

    def watchdog(self) -> None:
        pass


def test_holding_says_why_everywhere_and_returns_once_the_file_loads(
    tmp_path: Path, caplog
) -> None:
    caplog.set_level(logging.ERROR)
    path = write(tmp_path, "rules: [")
    keeper = Keeper(path, ENV)
    sent: list[tuple[str, str]] = []
    clock = [0.0]
    fixed: list[str] = []
    sd = FakeNotifier()

    def wait(seconds: float) -> bool:
        clock[0] += seconds
        if clock[0] >= 125 and not fixed:  # two minutes held: now the operator fixes the file
            fixed.append(write(tmp_path, GOOD))
            os.utime(path, (clock[0], clock[0]))
        assert clock[0] < 1000, "the holding loop did not pick up the fixed file"
        return False

    holding = Holding(
        path,
        "r.yaml:1:8: YAML syntax error",
        load=keeper.load,
        announce=lambda title, body: sent.append((title, body)),
        notifier=sd,  # type: ignore[arg-type]
        monotonic=lambda: clock[0],
        wait=wait,
    )
    holding._send = lambda title, body: sent.append((title, body))  # type: ignore[method-assign]
    cfg = holding.loop()
    assert cfg is not None and [r.name for r in cfg.rules] == ["a"]
    assert sd.sent[0].startswith("READY NOT watching: rules file invalid, no last good copy")
    assert "r.yaml:1:8: YAML syntax error" in sd.sent[0]
    assert "NOT watching your positions" in sent[0][1] and "r.yaml:1:8" in sent[0][1]
    assert sent[-1][1].startswith("resolved: riskwatch-config")
    logged = [r for r in caplog.records if r.getMessage().startswith("not watching:")]
    assert len(logged) == 3  # at 0 s, 60 s and 120 s: once a minute


def test_a_metrics_port_that_is_taken_is_a_config_alert_not_an_exit(tmp_path: Path) -> None:
    import socket

    from riskwatch.config import load as config
    from riskwatch.exchange.fake.server import FakeBitget
    from riskwatch.service.wiring import wire

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        path = write(tmp_path, GOOD + f"metrics: {{listen: '127.0.0.1:{port}'}}\n")
        env = {**ENV, **FakeBitget.credentials_env()}
        wired = wire(config.load(path, environ=env), environ=env)
        try:
            problem = wired.watcher.health.config_error
            assert problem and f"metrics.listen 127.0.0.1:{port}: cannot listen" in problem
        finally:
            for close in wired.hooks.closers:
                close()


def test_the_file_loading_again_says_one_rule_not_one_rules() -> None:
    import threading

    from riskwatch.model import Config
    from riskwatch.service.holding import Holding
    from tests.engine_support import gap_rule

    said: list[str] = []
    done = threading.Event()

    def announce(title: str, body: str) -> None:
        said.append(body)
        done.set()

    h = Holding(
        "rules.yaml", "bad", load=lambda p: Config(path=p, rules=(gap_rule(),)), announce=announce
    )
    h.hup.set()  # a reload asked for: read the file now
    assert h._try_reload() is not None
    assert done.wait(10)
    assert said == ["resolved: riskwatch-config: rules.yaml loads again; watching with 1 rule"]
