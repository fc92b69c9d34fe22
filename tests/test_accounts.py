"""Many accounts in one daemon (DESIGN 14), through ``riskwatch run --once``: one simulated
Bitget serving a key per account (each with its own book, checked by signature), apprise to a
local receiver, the state dir on disk."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from riskwatch.cli.main import main
from riskwatch.config import load as config
from riskwatch.config.accounts import named, watched
from riskwatch.config.lint import lint
from riskwatch.config.schema import json_schema
from riskwatch.delivery.fake import Receiver
from riskwatch.errors import ConfigError
from riskwatch.exchange.fake.server import FakeBitget
from riskwatch.store.db import Store

HEAD = """\
exchange:
  base_url: {url}
  timeout: 2s
state_dir: {state}
channels:
  rx: ["{rx}"]
defaults:
  channels: [rx]
  repeat: 1h
"""
ACCOUNTS = """\
accounts:
  - {name: main, credentials: BITGET_MAIN}
  - {name: hedge, credentials: "${HEDGE_PREFIX}"}
"""
RULES = """\
rules:
  - name: near-liquidation
    metric: liq_gap_pct
    op: "<"
    warning: 8
    critical: 4
"""


@pytest.fixture
def two(monkeypatch):
    """A host account ``main`` and a second key ``hedge`` on one simulator."""
    with FakeBitget() as fx, Receiver() as rx:
        fx.name = "main"
        hedge = fx.add_account("hedge")
        for name, value in {**fx.env("BITGET_MAIN"), **hedge.env("BITGET_HEDGE")}.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("HEDGE_PREFIX", "BITGET_HEDGE")
        for name in ("BITGET_API_KEY", "BITGET_API_SECRET", "BITGET_API_PASSPHRASE"):
            monkeypatch.delenv(name, raising=False)
        yield fx, hedge, rx


def write(tmp_path: Path, fx: FakeBitget, rx: Receiver, body: str = ACCOUNTS + RULES) -> Path:
    rules = tmp_path / "rules.yaml"
    rules.write_text(HEAD.format(url=fx.url, state=tmp_path / "state", rx=rx.url) + body)
    return rules


def lines(rx: Receiver) -> list[str]:
    return [line for body in rx.bodies() for line in body.splitlines()]


def test_two_accounts_with_their_own_keys_each_alert_naming_the_account(tmp_path, two):
    fx, hedge, rx = two
    fx.add_position("BTCUSDT", "long", mark="93500", liquidation="90000")  # 3.7 %: critical
    hedge.add_position("ETHUSDT", "short", mark="2500", liquidation="2650")  # 6 %: warning
    assert main(["run", "-c", str(write(tmp_path, fx, rx)), "--once"]) == 0
    assert rx.wait_for(1, timeout=10)
    said = lines(rx)
    assert any(x.startswith("CRITICAL near-liquidation BTCUSDT long on main:") for x in said)
    assert any(x.startswith("WARNING near-liquidation ETHUSDT short on hedge:") for x in said)
    assert not any("ETHUSDT" in x and "on main" in x for x in said), "each book is its own"
    assert fx.requests and hedge.requests, "each key was served by its own account"
    state = Store.open(str(tmp_path / "state")).load_state()
    assert {k[4] for k in state if k[0] == "near-liquidation"} == {"main", "hedge"}


def test_a_refused_account_raises_its_own_auth_alert_while_the_other_alerts(tmp_path, two):
    fx, hedge, rx = two
    fx.add_position("BTCUSDT", "long", mark="93500", liquidation="90000")
    hedge.API_SECRET = "rotated_at_bitget"  # our key's signature no longer matches: 40009
    assert main(["run", "-c", str(write(tmp_path, fx, rx)), "--once"]) == 3
    assert rx.wait_for(1, timeout=10)
    said = lines(rx)
    (auth,) = [x for x in said if "riskwatch-auth" in x]
    assert auth.startswith("CRITICAL riskwatch-auth on hedge:")
    assert any(x.startswith("CRITICAL near-liquidation BTCUSDT long on main:") for x in said)


@pytest.mark.slow  # the unreachable account retries until its fetch deadline (5 s)
def test_an_unreachable_account_keeps_its_state_while_the_other_alerts(tmp_path, two):
    fx, hedge, rx = two
    rules = write(tmp_path, fx, rx)
    rules.write_text(rules.read_text().replace("timeout: 2s", "timeout: 1s\n  poll_interval: 1s"))
    fx.add_position("BTCUSDT", "long", mark="93500", liquidation="90000")
    hedge.add_position("ETHUSDT", "short", mark="2500", liquidation="2650")
    assert main(["run", "-c", str(rules), "--once"]) == 0
    assert rx.wait_for(1, timeout=10)
    hedge.inject("reset")  # every request of the hedge key: connection reset
    fx.liquidate("BTCUSDT", "long")  # main's position is liquidated meanwhile
    assert main(["run", "-c", str(rules), "--once"]) == 4
    assert rx.wait_for(2, timeout=10)
    second = rx.bodies()[1].splitlines()
    assert any(x.startswith("LIQUIDATED BTCUSDT long on main: 1 closed at 90,000") for x in second)
    assert any(x.startswith("ENDED near-liquidation BTCUSDT long on main") for x in second)
    assert not any("ETHUSDT" in x for x in second), "an unreachable account closes nothing"
    state = Store.open(str(tmp_path / "state")).load_state()
    (kept,) = [a for k, a in state.items() if k[4] == "hedge" and k[0] == "near-liquidation"]
    assert kept.status == "firing"


def test_a_hanging_account_costs_the_others_one_short_wait_not_its_timeout(tmp_path, two):
    """The daemon's cycle waits for a hanging account's poll only ``min(timeout,
    poll_interval / 2)``: the other account's alert goes out this cycle, the hanging one's
    alerts keep their state, and no failure is claimed while its poll still runs."""
    from riskwatch.service.wiring import wire

    fx, hedge, rx = two
    fx.add_position("BTCUSDT", "long", mark="93500", liquidation="90000")
    hedge.inject("hang", seconds=60)  # until the simulator stops
    cfg = config.load(str(write(tmp_path, fx, rx)))
    wired = wire(cfg)
    try:
        outcome = wired.watcher.cycle()
    finally:
        wired.stop.set()
        wired.close()
    assert [s.account for s in outcome.snapshots] == ["main"]
    assert outcome.errors == () and outcome.error is None
    (body,) = [m.body for _, m in outcome.outgoing]
    assert "BTCUSDT long on main" in body


def test_a_rule_matched_to_one_account_watches_only_that_account(tmp_path, two):
    fx, hedge, rx = two
    fx.add_position("BTCUSDT", "long", mark="93500", liquidation="90000")
    hedge.add_position("BTCUSDT", "long", mark="93500", liquidation="90000")
    body = ACCOUNTS + RULES + "    match: {account: hed*}\n"
    body += '    message: "{account} {symbol} at {liq_gap_pct:.1f}%"\n'
    assert main(["run", "-c", str(write(tmp_path, fx, rx, body)), "--once"]) == 0
    assert rx.wait_for(1, timeout=10)
    said = [x for x in lines(rx) if "near-liquidation" in x]
    assert len(said) == 1
    assert said[0].startswith("CRITICAL near-liquidation BTCUSDT long on hedge: hedge BTCUSDT at")


def test_one_account_file_reads_as_before(tmp_path, monkeypatch):
    with FakeBitget() as fx, Receiver() as rx:
        for name, value in FakeBitget.credentials_env().items():
            monkeypatch.setenv(name, value)
        fx.add_position("BTCUSDT", "long", mark="93500", liquidation="90000")
        assert main(["run", "-c", str(write(tmp_path, fx, rx, RULES)), "--once"]) == 0
        assert rx.wait_for(1, timeout=10)
        (line,) = lines(rx)
        assert line.startswith("CRITICAL near-liquidation BTCUSDT long: 3.74% from liquidation")
        assert " on default" not in line


def test_an_old_state_dir_migrates_in_place_and_repeats_nothing(tmp_path, monkeypatch):
    """A state dir of schema 4 (keys without the account) with a firing alert, its ack and a
    queued message: opened by this riskwatch, the alert is the default account's, stays
    firing and acked, so the next cycle sends no second 'firing' line."""
    from riskwatch.store import db
    from riskwatch.store import silences as stored

    state = tmp_path / "state"
    state.mkdir()
    conn = sqlite3.connect(state / "state.sqlite")
    for step in db.MIGRATIONS[:4]:
        conn.executescript(step)  # type: ignore[arg-type]
    conn.execute("PRAGMA user_version=4")
    old = ["near-liquidation", "USDT-FUTURES", "BTCUSDT", "long"]
    data = {
        "key": {"t": old},
        "status": "firing",
        "severity": "critical",
        "since": 1.0,
        "value": 3.7,
        "last_sent_at": 9e9,  # "just sent": a repeat is not due
        "channels": {"t": ["rx"]},
        "metric": "liq_gap_pct",
        "op": "<",
        "scope": "position",
    }
    conn.execute("INSERT INTO alerts VALUES (?, ?)", (json.dumps(old), json.dumps(data)))
    conn.execute("INSERT INTO acks VALUES (?, 'ann', 2.0)", (json.dumps(old),))
    cfg_key = ["riskwatch-config", "", "", ""]
    conn.execute(
        "INSERT INTO outbox (dest_key, channel, title, body, created_at, keys) VALUES "
        "('x', 'rx', 't', 'b', 1.0, ?)",
        (json.dumps([old, cfg_key]),),
    )
    conn.commit()
    conn.close()
    store = Store.open(str(state))
    (key,) = store.load_state()
    assert key == ("near-liquidation", "USDT-FUTURES", "BTCUSDT", "long", "default")
    assert store.load_state()[key].status == "firing"
    (item,) = store.undelivered()
    assert item.keys == ((*old, "default"), (*cfg_key, ""))
    assert list(stored.acks(store)) == [key]
    store.close()
    with FakeBitget() as fx, Receiver() as rx:
        for name, value in FakeBitget.credentials_env().items():
            monkeypatch.setenv(name, value)
        fx.add_position("BTCUSDT", "long", mark="93500", liquidation="90000")
        rules = write(tmp_path, fx, rx, RULES)
        assert main(["run", "-c", str(rules), "--once"]) == 0
    reopened = Store.open(str(state))
    assert list(reopened.load_state()) == [key]
    assert not any("firing" in r.what for r in reopened.read_history(0.0)), "not told again"


# --------------------------------------------------------------------------- the rules file


def load(tmp_path: Path, body: str, env: dict[str, str] | None = None) -> config.Config:
    path = tmp_path / "r.yaml"
    path.write_text("channels: {c: ['json://127.0.0.1:1/']}\ndefaults: {channels: [c]}\n" + body)
    return config.load(str(path), environ=env or {})


def test_accounts_override_the_exchange_settings_they_name(tmp_path):
    cfg = load(
        tmp_path,
        "exchange: {product_types: [USDT-FUTURES, COIN-FUTURES], margin_coin: usdt}\n"
        "accounts:\n"
        "  - {name: main, credentials: BITGET_MAIN}\n"
        "  - {name: hedge, credentials: BITGET_HEDGE, api: v3, demo: true,"
        " product_types: [USDC-FUTURES], margin_coin: null}\n",
    )
    main_, hedge = watched(cfg)
    assert (main_.name, main_.credentials, main_.exchange.api) == ("main", "BITGET_MAIN", "auto")
    assert main_.exchange.product_types == ("USDT-FUTURES", "COIN-FUTURES")
    assert main_.exchange.margin_coin == "USDT"
    assert (hedge.exchange.api, hedge.exchange.demo) == ("v3", True)
    assert hedge.exchange.product_types == ("USDC-FUTURES",)
    assert hedge.exchange.margin_coin is None
    assert named(cfg)
    assert not named(load(tmp_path, "")) and watched(load(tmp_path, ""))[0].name == "default"


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("accounts: [{name: a, credentials: X}, {name: a, credentials: Y}]", "duplicate account"),
        ("accounts: [{name: Main, credentials: X}]", "not a valid account name"),
        ("accounts: [{name: a, credentials: X}, {name: b, credentials: x}]", "already the"),
        ("accounts: [{name: a, credentials: 'BITGET API'}]", "not a variable prefix"),
        ("accounts: [{name: a}]", "missing required key 'credentials'"),
        ("accounts: [{name: a, credentials: X, base_url: 'http://x'}]", "unknown key"),
        ("accounts: []", "at least one account"),
        ("accounts: [{name: a, credentials: X, api: v3, product_types: [SUSDT-FUTURES]}]", "v3"),
        ("accounts: [{name: a, credentials: '${UNSET_PREFIX}'}]", "UNSET_PREFIX} is not set"),
    ],
)
def test_bad_accounts_are_errors_with_their_line(tmp_path, body, says):
    with pytest.raises(ConfigError) as err:
        load(tmp_path, body + "\n")
    text = "\n".join(err.value.problems)
    assert says in text and "r.yaml:3:" in text


def test_a_rule_matched_to_no_watched_account_is_a_lint_warning(tmp_path):
    cfg = load(
        tmp_path,
        "accounts: [{name: main, credentials: X}, {name: hedge, credentials: Y}]\n"
        "rules: [{name: r, metric: liq_gap_pct, op: '<', warning: 5, match: {account: desk-*}}]\n",
    )
    assert any("names no watched account" in w for w in lint(cfg))


def test_the_schema_knows_accounts_and_the_account_match():
    schema = json_schema()
    account = schema["$defs"]["account"]
    assert account["required"] == ["name", "credentials"]
    assert account["properties"]["name"]["pattern"] == "^[a-z0-9_-]+$"
    assert "account" in schema["$defs"]["match"]["properties"]
    assert schema["properties"]["accounts"]["items"] == {"$ref": "#/$defs/account"}


# --------------------------------------------------------------------------- the commands


def test_positions_status_and_history_show_each_account(tmp_path, two, capsys):
    fx, hedge, rx = two
    fx.add_position("BTCUSDT", "long", mark="93500", liquidation="90000")
    hedge.add_position("ETHUSDT", "short", mark="2500", liquidation="2650")
    rules = write(tmp_path, fx, rx)
    assert main(["positions", "-c", str(rules)]) == 0
    shown = capsys.readouterr().out
    main_part, hedge_part = shown.split("== account hedge")
    assert main_part.startswith("== account main") and "BTCUSDT" in main_part
    assert "ETHUSDT" in hedge_part and "BTCUSDT" not in hedge_part
    assert "near-liquidation:warning" in hedge_part
    assert main(["run", "-c", str(rules), "--once"]) == 0
    capsys.readouterr()
    assert main(["status", "-c", str(rules)]) == 0
    status = capsys.readouterr().out
    assert "last successful poll of account hedge:" in status
    (row,) = [x for x in status.splitlines() if x.startswith("near-liquidation  ETHUSDT")]
    assert row.rstrip().endswith("hedge"), "the ACCOUNT column"
    assert main(["history", "-c", str(rules), "--account", "hed*", "--json"]) == 0
    said = json.loads(capsys.readouterr().out)
    assert {r["account"] for r in said if r["kind"] == "line"} == {"hedge"}


def test_a_refused_account_in_positions_is_its_section_and_the_exit_status(tmp_path, two, capsys):
    fx, hedge, rx = two
    fx.add_position("BTCUSDT", "long", mark="93500", liquidation="90000")
    hedge.API_SECRET = "rotated_at_bitget"
    assert main(["positions", "-c", str(write(tmp_path, fx, rx))]) == 3
    out = capsys.readouterr().out
    assert "BTCUSDT" in out and "== account hedge: not read:" in out
    assert hedge.API_SECRET not in out


def test_the_bots_positions_name_the_account_when_there_are_several():
    from decimal import Decimal as D

    from riskwatch.model import Position, Snapshot
    from riskwatch.service.telegram_bot import positions_text

    def snap(account: str, symbol: str) -> Snapshot:
        p = Position("USDT-FUTURES", symbol, "long", "USDT", D(1), D(100), D(90), D(5))
        return Snapshot(taken_at=1.0, positions=(p,), account=account)

    both = positions_text([snap("main", "BTCUSDT"), snap("hedge", "ETHUSDT")]).splitlines()
    assert both[0] == "2 open positions:"
    assert both[1].startswith("BTCUSDT long on main 1: mark 100, liq 90; 10.00% from")
    assert both[2].startswith("ETHUSDT long on hedge 1:")
    assert " on " not in positions_text(snap("default", "BTCUSDT"))


def test_a_metric_is_blind_only_when_no_watched_account_reports_it(tmp_path):
    rule = "rules: [{name: r, metric: marginRatio, op: '>=', warning: 0.5}]\n"  # v2 only
    mixed = "accounts: [{name: a, credentials: A, api: v2}, {name: b, credentials: B, api: v3}]\n"
    assert not any("never fire" in w for w in lint(load(tmp_path, mixed + rule)))
    unified = mixed.replace("api: v2", "api: v3")
    assert any("not reported by exchange.api v3" in w for w in lint(load(tmp_path, unified + rule)))


def test_a_refused_account_backs_off_alone_while_the_other_keeps_its_pace(tmp_path, two):
    """Cycles 10 s apart (a fake monotonic clock): the refused key is asked after 10, 20, 40 s
    (twice as long after each refusal in a row), the good one every cycle."""
    from riskwatch.service.wiring import wire

    fx, hedge, rx = two
    hedge.API_SECRET = "rotated_at_bitget"
    wired = wire(config.load(str(write(tmp_path, fx, rx))))
    t = [1000.0]
    wired.watcher.monotonic = lambda: t[0]
    polled: dict[str, list[int]] = {"main": [], "hedge": []}
    try:
        for n in range(8):
            outcome = wired.watcher.cycle()
            for name, _ in outcome.errors:
                polled[name].append(n)
            for snap in outcome.snapshots:
                polled[snap.account].append(n)
            t[0] += 10.0
    finally:
        wired.close()
    assert polled["main"] == list(range(8))
    assert polled["hedge"] == [0, 1, 3, 7]
    assert wired.watcher.accounts[1].health.auth_error, "its riskwatch-auth keeps firing"
