"""Hostile clocks, credentials, rules files, state and scrapes (issue 16, defects 3, 7, 11,
13, 14, 15): a wall clock stepped back an hour or forward seven, a byte-order mark or a smart
quote in a secret, a megabyte of ``1:1:1``, corrupt rows, a save that pauses mid-write, and a
position whose metrics cannot be computed at scrape time."""

from __future__ import annotations

import logging
import sqlite3
import threading
import urllib.request
from dataclasses import replace
from decimal import Decimal

import pytest

from riskwatch.cli.main import main
from riskwatch.config import load as config
from riskwatch.delivery.fake import Receiver
from riskwatch.delivery.retry import RetryPolicy, deliver_pending
from riskwatch.delivery.workers import destinations, routes
from riskwatch.errors import ConfigError, CredentialsError
from riskwatch.exchange import credentials
from riskwatch.exchange.fake.server import FakeBitget
from riskwatch.model import Channel, Config, Health, Message, Position, Snapshot
from riskwatch.service.daemon import Daemon, Hooks
from riskwatch.store.db import FILENAME, Store

from .conftest import Rig, leaks

pytestmark = pytest.mark.reliability


class Wall:
    """A wall clock and a monotonic clock a test moves (and steps) by hand."""

    def __init__(self) -> None:
        self.wall, self.mono = 1_700_000_000.0, 500.0

    def tick(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds


def test_wall_clock_steps_leave_every_duration_alone(tmp_path, caplog, ledger) -> None:
    """Defect 7: back 1 h held a retry (and all behind it) for an hour; forward 7 h dropped a
    fresh message as older than send_ttl. Durations now run on the monotonic clock."""
    from riskwatch.service.clock import SteadyClock

    w = Wall()
    clock = SteadyClock(wall=lambda: w.wall, monotonic=lambda: w.mono)
    with Receiver() as rx:
        store = Store.open(str(tmp_path / "state"))
        cfg = Config(path="r", state_dir=store.path, channels=(Channel("p", (rx.url,)),))
        (dest,) = destinations(cfg).values()
        msg = Message("p", "riskwatch: x", "fresh alert", clock())
        store.commit_cycle({}, [(k, msg) for k in routes(cfg)["p"]])
        w.wall += 7 * 3600  # forward seven hours: the message is seconds old, not seven hours
        w.tick(2)
        with caplog.at_level(logging.INFO, logger="riskwatch.clock"):
            for _ in range(3):
                clock.check()
        stop = threading.Event()
        policy = RetryPolicy(initial=0.01, max_wait=0.05, jitter=0.0)
        result = deliver_pending(
            dest, store, ttl=6 * 3600, force=False, policy=policy, clock=clock,
            sleep=stop.wait, stop=stop,
        )  # fmt: skip
        assert result.sent == 1 and result.dropped == 0 and rx.bodies() == ["fresh alert"]
        w.wall -= 8 * 3600  # back (an hour behind where it started): a backoff stays 5 s
        rx.fail(times=1, status=500)
        store.commit_cycle({}, [(k, replace(msg, created_at=clock())) for k in routes(cfg)["p"]])
        failed = deliver_pending(
            dest, store, ttl=6 * 3600, force=False, policy=replace(policy, attempts=1),
            clock=clock, sleep=stop.wait, stop=stop, rand=lambda: 0.5,
        )  # fmt: skip
        assert failed.failed == 1 and failed.next_due - clock() <= 60
        store.close()
    steps = [r for r in caplog.records if "clock jumped" in r.getMessage()]
    assert len(steps) == 1 and "forward by 25200 s" in steps[0].getMessage()
    ledger.record("hostile", faults=2, expected=1, delivered=1)


def test_the_daemon_wiring_times_durations_on_the_steady_clock(tmp_path) -> None:
    from riskwatch.service.clock import SteadyClock

    with FakeBitget() as fx, Receiver() as rx:
        rig = Rig(tmp_path, fx, rx)
        try:
            assert isinstance(rig.wired.watcher.clock, SteadyClock)
            assert rig.wired.deliverer.clock is rig.wired.watcher.clock
        finally:
            rig.close()


KEY = FakeBitget.API_KEY


@pytest.mark.parametrize(
    "passphrase,problem",
    [
        ("pass\u2019phrase", "BITGET_API_PASSPHRASE contains a non-ASCII character"),
        ("passphrase\n", "BITGET_API_PASSPHRASE contains whitespace"),
        (" passphrase", "BITGET_API_PASSPHRASE contains whitespace"),
    ],
)
def test_odd_credentials_are_a_config_error_naming_the_variable(passphrase, problem, ledger):
    """Defect 11: a non-ASCII passphrase crashed (UnicodeEncodeError, 79-line traceback); a
    newline or leading space was reported as "exchange unreachable"."""
    env = {
        "BITGET_API_KEY": KEY,
        "BITGET_API_SECRET": "s" * 20,
        "BITGET_API_PASSPHRASE": passphrase,
    }
    with pytest.raises(CredentialsError) as err:
        credentials.load(env)
    assert problem in str(err.value) and passphrase.strip() not in str(err.value)
    ledger.record("hostile", faults=1, leaked=leaks([str(err.value)], extra=[passphrase.strip()]))


def test_a_byte_order_mark_is_stripped_with_a_warning(tmp_path, caplog) -> None:
    (tmp_path / "bitget_api_key").write_text("\ufeff" + KEY, encoding="utf-8")
    env = {"CREDENTIALS_DIRECTORY": str(tmp_path), "BITGET_API_SECRET": "s" * 20}
    env["BITGET_API_PASSPHRASE"] = "p" * 12
    with caplog.at_level(logging.WARNING):
        creds = credentials.load(env)
    assert creds.api_key == KEY
    assert "BITGET_API_KEY starts with a byte-order mark" in caplog.text and KEY not in caplog.text


HEAD = "state_dir: /nonexistent\nchannels:\n  phone: ['json://127.0.0.1:9/']\ndefaults:\n"
HEAD += "  channels: [phone]\n"


def _in_thread(fn, seconds: float):
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:
            box["exc"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), "did not finish: unbounded"
    return box.get("value"), box.get("exc")


def test_a_megabyte_sexagesimal_value_is_refused_at_once_with_its_line(tmp_path, ledger) -> None:
    """Defect 13: ``1:1:1:...`` parsed in quadratic time (minutes on a reload)."""
    path = tmp_path / "rules.yaml"
    path.write_text("rules:\n  - name: r\n    metric: liq_gap_pct\n    op: '<'\n    warning: " +
                    ":".join(["1"] * 300_000) + "\n")  # fmt: skip
    _, exc = _in_thread(lambda: config.load(str(path)), 20)
    assert isinstance(exc, ConfigError)
    assert f"{path}:5:14: value longer than 1,000 characters" in exc.problems
    ledger.record("hostile", faults=1)


def test_a_short_sexagesimal_value_is_a_located_error_not_an_internal_one(tmp_path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(HEAD + "rules:\n  - name: r\n    metric: liq_gap_pct\n    op: '<'\n")
    path.write_text(path.read_text() + "    warning: 1:30\n")
    with pytest.raises(ConfigError) as err:
        config.load(str(path))
    assert err.value.problems[0] == f"{path}:10:14: rules[0].warning: expected a number, got '1:30'"
    assert "internal error" not in str(err.value)


def _corrupt(state_dir) -> None:
    conn = sqlite3.connect(state_dir / FILENAME)
    conn.execute(
        "INSERT INTO outbox (dest_key, channel, title, body, created_at, keys)"
        " VALUES ('k', 'phone', 't', 'b', 1.0, 'not json')"
    )
    conn.execute(
        "INSERT INTO alerts (key, data) VALUES ('a', ?)",
        ('{"key": {"t": ["r", "USDT-FUTURES", "BTCUSDT", "long", "default"]}, "status": "firing",'
         ' "severity": "warning", "since": "yesterday", "value": 1.0}',),
    )  # fmt: skip
    conn.commit()
    conn.close()


def test_corrupt_rows_are_one_line_in_status_and_quarantined_by_the_daemon(
    tmp_path, capsys, logtap, ledger
) -> None:
    """Defect 14: a corrupt outbox row (``keys`` not JSON) or alert row (``since`` not a
    number) gave a traceback in ``run`` and ``status``."""
    state = tmp_path / "state"
    Store.open(str(state)).close()
    _corrupt(state)
    assert main(["status", "--state-dir", str(state)]) == 0
    logging.getLogger().addHandler(logtap.handler)  # main() set up its own logging
    logging.getLogger().setLevel(logging.DEBUG)
    out = capsys.readouterr().out
    assert "corrupt row in outbox (id 1): keys is not a JSON list" in out
    assert "corrupt row in alerts (id a): since is not a number" in out
    with FakeBitget() as fx, Receiver() as rx:
        rig = Rig(tmp_path, fx, rx)  # the daemon's wiring opens the same state dir
        try:
            assert rig.cycle().error is None
            rig.wired.deliverer.deliver_all_once(timeout=5)
            rig.cycle()
        finally:
            rig.close()
    warnings = [ln for ln in logtap.text().splitlines() if "corrupt row in" in ln]
    assert len(warnings) == 2 and all(w.startswith("WARNING") for w in warnings)
    assert main(["status", "--state-dir", str(state)]) == 0
    assert "2 corrupt row(s) set aside" in capsys.readouterr().out
    ledger.record("hostile", faults=2)


RULES = """\
channels: {phone: ["json://127.0.0.1:9/"]}
defaults: {channels: [phone]}
rules:
  - name: near-liquidation
    metric: liq_gap_pct
    op: "<"
    warning: 15
  - name: deep-loss
    metric: unrealizedPLR
    op: "<"
    warning: -0.5
"""


class _Watcher:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.adopted: list[tuple[str, ...]] = []
        self.last_snapshot, self.state, self.health = None, {}, Health()
        self.accounts: list = []  # as Watcher: the watched accounts (none polled here)

    def apply_config(self, cfg: Config) -> Config:
        self.cfg = cfg
        self.adopted.append(tuple(r.name for r in cfg.rules))
        return cfg  # as Watcher.apply_config: the config as adopted

    def set_config_error(self, problem: str | None) -> None:
        pass


def test_a_save_that_pauses_mid_write_removes_no_rule(tmp_path, ledger) -> None:
    """Defect 15: a 3 s pause in a non-atomic save left a file that parsed without the second
    rule: a false "rule removed", then a re-fire when the rest arrived."""
    path = tmp_path / "rules.yaml"
    path.write_text(RULES)
    watcher = _Watcher(config.load(str(path)))
    t = [0.0]
    d = Daemon(str(path), watcher, Hooks(), monotonic=lambda: t[0])  # type: ignore[arg-type]
    d._maybe_reload()
    path.write_text(RULES.replace("warning: 15", "warning: 12")[: RULES.index("  - name: deep")])
    for _ in range(30):  # the editor pauses 3 s (the loop looks every 0.1 s here)
        t[0] += 0.1
        d._maybe_reload()
    path.write_text(RULES.replace("warning: 15", "warning: 12"))
    for _ in range(40):
        t[0] += 0.1
        d._maybe_reload()
    assert watcher.adopted == [("near-liquidation", "deep-loss")]
    assert watcher.cfg.rules[0].warning == 12
    ledger.record("hostile", faults=1)


def test_a_metrics_scrape_never_prints_a_traceback(tmp_path, capfd, ledger) -> None:
    """Defect 3: a scrape raising inside the collector printed a traceback (and a 500)."""
    pytest.importorskip("prometheus_client")
    from riskwatch.service.prometheus import Exporter

    # Numbers normalisation now refuses (the exporter must not rely on that): notional,
    # total * mark, overflows Decimal.
    big = Decimal("9e999990")
    bad = Position("USDT-FUTURES", "BTCUSDT", "long", "USDT", big, big, Decimal(90), Decimal(3))
    snap = Snapshot(taken_at=1.0, positions=(bad,))
    exporter = Exporter("127.0.0.1:0")
    try:
        port = exporter._server.server_address[1]
        exporter.published.publish(snap, {})
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
    finally:
        exporter.close()
    assert b'riskwatch_positions{account="default"} 1.0' in body
    err = capfd.readouterr().err
    assert "Traceback" not in err
    ledger.record("hostile", faults=1)
