"""``riskwatch run --once`` through the CLI: the simulated exchange over HTTP, apprise to a
local receiver, the state dir on disk. Classic and unified accounts must alert alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from riskwatch.cli.main import main
from riskwatch.delivery.fake import Receiver
from riskwatch.exchange.fake.server import FakeBitget
from riskwatch.store.db import Store

RULES = """\
exchange:
  base_url: {url}
  fallback_url: {url}
state_dir: {state}
channels:
  rx: ["{rx}"]
defaults:
  channels: [rx]
  repeat: 1h
rules:
  - name: near-liquidation
    metric: liq_gap_pct
    op: "<"
    warning: 8
    critical: 4
  - name: deep-drawdown
    metric: unrealizedPLR
    op: "<="
    warning: -0.3
"""


@pytest.fixture(autouse=True)
def creds(monkeypatch):
    for name, value in FakeBitget.credentials_env().items():
        monkeypatch.setenv(name, value)


def book(fx: FakeBitget) -> None:
    fx.add_position("BTCUSDT", "long", mark="93500", liquidation="90000", open_price="100000")
    fx.add_position("ETHUSDT", "short", mark="2500", liquidation="2680", total="2")
    fx.add_position("SOLUSDT", "long", mark="150", no_liquidation=True, leverage=1)


def run_once(tmp_path: Path, mode: str) -> tuple[int, list[str], Path]:
    """Default settings (``api`` unset: auto) against an account in ``mode``."""
    with FakeBitget(account_mode=mode) as fx, Receiver() as rx:
        book(fx)
        rules = tmp_path / mode / "rules.yaml"
        rules.parent.mkdir()
        state = tmp_path / mode / "state"
        rules.write_text(RULES.format(url=fx.url, state=state, rx=rx.url))
        rc = main(["run", "-c", str(rules), "--once"])
        assert rx.wait_for(1, timeout=10)
        return rc, rx.bodies(), state


def test_unified_account_alerts_exactly_like_a_classic_one(tmp_path):
    rc_c, classic, state_c = run_once(tmp_path, "classic")
    rc_u, unified, state_u = run_once(tmp_path, "unified")
    assert rc_c == rc_u == 0
    assert len(classic) == len(unified) == 1

    def untimed(body: str) -> list[str]:  # each line ends with the time it was seen
        return [line.rsplit(" [", 1)[0] for line in body.splitlines()]

    assert untimed(classic[0]) == untimed(unified[0])
    lines = classic[0].splitlines()
    assert any(line.startswith("CRITICAL near-liquidation BTCUSDT long") for line in lines)
    assert any(line.startswith("WARNING near-liquidation ETHUSDT short") for line in lines)
    assert any(line.startswith("WARNING deep-drawdown BTCUSDT long") for line in lines)
    assert not any("SOLUSDT" in line for line in lines), "no liquidation price: no gap alert"
    for state, mode in ((state_c, "classic"), (state_u, "unified")):
        store = Store.open(str(state))
        assert store.get_meta("account_mode") == mode
        assert store.undelivered() == []
        store.close()


def test_a_second_run_inside_repeat_sends_nothing_new(tmp_path):
    with FakeBitget() as fx, Receiver() as rx:
        book(fx)
        rules = tmp_path / "rules.yaml"
        rules.write_text(RULES.format(url=fx.url, state=tmp_path / "state", rx=rx.url))
        assert main(["run", "-c", str(rules), "--once"]) == 0
        assert rx.wait_for(1, timeout=10)
        assert main(["run", "-c", str(rules), "--once"]) == 0
        assert main(["run", "-c", str(rules), "--once"]) == 0
        assert len(rx.bodies()) == 1


def test_a_refused_key_exits_3_after_alerting(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BITGET_API_SECRET", "not-the-secret-0000")
    with FakeBitget() as fx, Receiver() as rx:
        rules = tmp_path / "rules.yaml"
        rules.write_text(RULES.format(url=fx.url, state=tmp_path / "state", rx=rx.url))
        assert main(["run", "-c", str(rules), "--once"]) == 3
        assert rx.wait_for(1, timeout=10)
        assert "CRITICAL riskwatch-auth" in rx.bodies()[0]
    err = capsys.readouterr().err
    assert "secret" in err.lower() and "not-the-secret-0000" not in err


def test_timestamp_still_rejected_after_resync_exits_4_saying_so(tmp_path, capsys):
    with FakeBitget() as fx, Receiver() as rx:
        book(fx)
        fx.inject("code", code="40008", path="/api/v2/mix/position/*")
        rules = tmp_path / "rules.yaml"
        rules.write_text(RULES.format(url=fx.url, state=tmp_path / "state", rx=rx.url))
        assert main(["run", "-c", str(rules), "--once"]) == 4
        assert fx.paths().count("/api/v2/mix/position/all-position") == 2
    err = capsys.readouterr().err
    assert "still rejects the request timestamp after syncing to its clock" in err
    assert "Traceback" not in err
