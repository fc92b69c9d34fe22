"""``riskwatch positions`` end to end against FakeBitget (real HTTP, real config file)."""

from __future__ import annotations

import argparse
import io

import pytest

from riskwatch.cli import main as cli
from riskwatch.cli import positions
from riskwatch.errors import RiskwatchError
from riskwatch.exchange.fake.server import FakeBitget
from riskwatch.store.db import Store
from tests.exchange_support import SECRETS, FakeClock, seed_fixture_positions

RULES = """
exchange:
  api: {api}
  base_url: {url}
  fallback_url: null
  poll_interval: 10s
state_dir: {state}
channels:
  phone: ["console://"]
defaults:
  channels: [phone]
rules:
  - name: near-liq
    metric: liq_gap_pct
    op: "<"
    warning: 10
    critical: 8
  - name: acct-risk
    scope: account
    metric: crossedRiskRate
    op: ">="
    warning: 0.01
"""


@pytest.fixture
def fx(monkeypatch):
    for name, value in FakeBitget.credentials_env().items():
        monkeypatch.setenv(name, value)
    with FakeBitget() as fake:
        seed_fixture_positions(fake)
        yield fake


def _config(tmp_path, fx, api="auto") -> str:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES.format(api=api, url=fx.url, state=tmp_path / "state"))
    return str(path)


def _run(path: str, clock: FakeClock | None = None) -> tuple[int, str]:
    """positions.run with an injected clock, errors mapped to exit codes as cli does."""
    clock = clock or FakeClock()
    out = io.StringIO()
    try:
        rc = positions.run(argparse.Namespace(config=path), out, clock=clock, sleep=clock.sleep)
    except RiskwatchError as exc:
        rc = cli.report(exc)
    return rc, out.getvalue()


def _row(text: str, symbol: str) -> list[str]:
    return next(line.split() for line in text.splitlines() if f" {symbol} " in f" {line} ")


def _assert_table(text: str) -> None:
    btc, eth, sol = _row(text, "BTCUSDT"), _row(text, "ETHUSDT"), _row(text, "SOLUSDT")
    assert btc[2] == "short" and "7.10" in btc and "near-liq:critical" in btc
    assert eth[2] == "long" and "9.84" in eth and "near-liq:warning" in eth
    assert sol[6] == "-" and sol[7] == "-" and sol[-1] == "-"
    assert "acct-risk:warning" in text
    assert len([line for line in text.splitlines() if "USDT-FUTURES  " in line]) >= 3


@pytest.mark.parametrize("api", ["v2", "v1", "auto"])
def test_classic_account_table(tmp_path, fx, api) -> None:
    fx.v1_enabled = api == "v1"  # the legacy path, against a v1-shaped server
    rc, text = _run(_config(tmp_path, fx, api))
    assert rc == 0
    _assert_table(text)


@pytest.mark.parametrize("api", ["v3", "auto"])
def test_unified_account_lists_the_same_and_auto_remembers(tmp_path, fx, api) -> None:
    fx.set_account_mode("unified")
    rc, text = _run(_config(tmp_path, fx, api))
    assert rc == 0
    _assert_table(text)
    assert "unified" in text
    if api == "auto":
        store = Store.open(str(tmp_path / "state"))
        try:
            assert store.get_meta("account_mode") == "unified"
        finally:
            store.close()


def test_survives_429_burst_and_45s_clock_skew(tmp_path, fx) -> None:
    fx.skew(45)
    fx.inject("429", count=5, path="/api/v2/mix/*")
    rc, text = _run(_config(tmp_path, fx))
    assert rc == 0
    _assert_table(text)


def test_render_computes_each_gap_once_for_sorting(tmp_path, fx, monkeypatch) -> None:
    from riskwatch.config import load as config
    from riskwatch.core import metrics
    from tests.exchange_support import client

    snap = client(fx).fetch_snapshot()
    cfg = config.load(_config(tmp_path, fx))
    calls = []
    real = metrics.liq_gap_pct
    monkeypatch.setattr(metrics, "liq_gap_pct", lambda p: calls.append(p) or real(p))
    text = positions.render(snap, cfg)
    assert [p.symbol for p in snap.positions if calls.count(p) > 2] == []  # sort once + row once
    symbols = [line.split()[1] for line in text.splitlines()[2:5]]
    assert symbols == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]  # nearest liquidation first, none last


@pytest.mark.parametrize(
    ("code", "phrase"),
    [
        ("40006", "BITGET_API_KEY"),
        ("40009", "BITGET_API_SECRET"),
        ("40012", "BITGET_API_PASSPHRASE"),
        ("40014", "Read permission"),
        ("40038", "IP address"),
        ("30032", "exchange.api: v2"),
        ("40085", "exchange.api: v3 or auto"),
    ],
)
def test_refusals_exit_3_with_a_sentence_and_no_secret(tmp_path, fx, capsys, code, phrase):
    fx.inject("code", code=code, path="/api/v2/mix/*")
    rc = cli.main(["positions", "-c", _config(tmp_path, fx, "v2"), "--log-level", "debug"])
    out, err = capsys.readouterr()
    assert rc == 3
    assert phrase in err and "Traceback" not in err
    for secret in SECRETS:
        assert secret not in out + err


def test_unreachable_exits_4_naming_the_endpoint(tmp_path, fx, capsys) -> None:
    fx.inject("5xx", path="/api/v2/mix/*")
    rc, _ = _run(_config(tmp_path, fx, "v2"))
    err = capsys.readouterr().err
    assert rc == 4 and "/api/v2/mix/position/all-position" in err


def test_an_answer_riskwatch_cannot_use_exits_4_without_calling_bitget_unreachable(
    tmp_path, fx, capsys
) -> None:
    fx.inject("code", code="400172", path="/api/v2/mix/*")  # v3's parameter check: our bug
    rc, _ = _run(_config(tmp_path, fx, "v2"))
    err = capsys.readouterr().err
    assert rc == 4 and "riskwatch: exchange error: " in err and "unreachable" not in err
    assert "this is a riskwatch bug, please report this line" in err


def test_timestamp_still_rejected_after_resync_exits_4_saying_so(tmp_path, fx, capsys) -> None:
    fx.inject("code", code="40008", path="/api/v2/mix/position/*")
    clock = FakeClock()
    rc, _ = _run(_config(tmp_path, fx, "v2"), clock)
    err = capsys.readouterr().err
    assert rc == 4 and "still rejects the request timestamp after syncing" in err
    assert clock.slept == []  # not retried until the deadline


def test_missing_credentials_exit_1(tmp_path, fx, capsys, monkeypatch) -> None:
    monkeypatch.delenv("BITGET_API_SECRET")
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    rc = cli.main(["positions", "-c", _config(tmp_path, fx)])
    assert rc == 1 and "BITGET_API_SECRET" in capsys.readouterr().err


def test_needs_only_the_exchange_credentials_not_the_channel_variables(tmp_path, fx) -> None:
    path = tmp_path / "rules.yaml"
    text = RULES.format(api="v2", url=fx.url, state=tmp_path / "state")
    path.write_text(text.replace('"console://"', '"tgram://${UNSET_BOT_TOKEN}/${UNSET_CHAT}"'))
    rc, out = _run(str(path))
    assert rc == 0
    _assert_table(out)


def test_positions_leaves_a_corrupt_row_to_the_daemon(tmp_path, fx) -> None:
    """It opens the state dir for the account mode only: moving rows is the daemon's job."""
    import sqlite3

    from riskwatch.store.db import FILENAME

    state = tmp_path / "state"
    Store.open(str(state)).close()
    conn = sqlite3.connect(state / FILENAME)
    conn.execute("INSERT INTO alerts (key, data) VALUES ('k', 'not json')")
    conn.commit()
    conn.close()
    rc, _ = _run(_config(tmp_path, fx))
    conn = sqlite3.connect(state / FILENAME)
    try:
        assert rc == 0 and conn.execute("SELECT COUNT(*) FROM alerts").fetchone() == (1,)
    finally:
        conn.close()
