"""Events through the whole cycle (DESIGN section 10): the simulated Bitget over real HTTP
liquidates or force-reduces a position, riskwatch reads the fills (only then) and says so;
the pending change survives a restart; v2 and v3, hedge and one-way mode."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from riskwatch.config import load as config
from riskwatch.exchange.fake.server import FakeBitget
from riskwatch.service.wiring import wire
from riskwatch.store.db import Store

RULES = """\
exchange:
  api: {api}
  base_url: {url}
  fallback_url: {url}
  poll_interval: 1s
  timeout: 2s
state_dir: {state}
channels:
  phone: ["console://"]
  pager: ["console://stderr"]
defaults:
  channels: [phone]
  repeat: 1h
rules:
  - name: near-liquidation
    metric: liq_gap_pct
    op: "<"
    warning: 8
    match: {{symbol: "BTC*"}}
    channels: [pager]
"""
FILLS = ("/api/v2/mix/order/fills", "/api/v3/trade/fills", "/api/v3/trade/history-orders")


class Clock:
    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        self.t += 1
        return self.t


class Run:
    """A wired watcher over ``fake``; ``restart()`` is a new process on the same state dir."""

    def __init__(self, tmp: Path, fake: FakeBitget, api: str = "v2") -> None:
        path = tmp / "rules.yaml"
        path.write_text(RULES.format(api=api, url=fake.url, state=tmp / "state"))
        self.env = FakeBitget.credentials_env()
        self.cfg = config.load(str(path), environ=self.env)
        self.fake, self.clock = fake, Clock()
        self.wired = wire(self.cfg, environ=self.env, out=io.StringIO(), clock=self.clock)

    def cycle(self) -> tuple[list[str], list[str]]:
        """(the lines sent this cycle, by destination, deduplicated; the fills paths read)."""
        seen = len(self.fake.requests)
        outcome = self.wired.watcher.cycle()
        paths = [r.path for r in self.fake.requests[seen:] if r.path in FILLS]
        body = [_bare(line) for _, m in outcome.outgoing for line in m.body.split("\n")]
        return list(dict.fromkeys(body)), paths

    def restart(self) -> None:
        self.close()
        self.wired = wire(self.cfg, environ=self.env, out=io.StringIO(), clock=self.clock)

    def close(self) -> None:
        for close in self.wired.hooks.closers:
            close()

    def queued(self) -> list[str]:
        store = Store.open(self.cfg.state_dir)
        try:
            return [_bare(line) for m in store.undelivered() for line in m.body.split("\n")]
        finally:
            store.close()


def _bare(line: str) -> str:
    """The line without its time stamp (DESIGN 11), which the test clock makes arbitrary."""
    return re.sub(r" \[\d\d:\d\d:\d\d UTC\]$", "", line)


def book(fx: FakeBitget) -> None:
    fx.add_position(
        "BTCUSDT", "long", total="0.5", mark="93500", open_price="99000", liquidation="90000"
    )
    fx.add_position("SOLUSDT", "long", total="10", mark="150", open_price="150", liquidation="120")


@pytest.fixture
def run(tmp_path):
    with FakeBitget() as fx:
        book(fx)
        r = Run(tmp_path, fx)
        yield r
        r.close()


def test_a_liquidation_with_a_firing_alert_is_told_and_ends_the_alert_marked(run):
    first, paths = run.cycle()
    assert first == [
        "WARNING near-liquidation BTCUSDT long: 3.74% from liquidation (below 8%); mark 93,500,"
        " liq 90,000; add ≈ 1,990 USDT equity (cross, estimate) to move liq to ≈ 86,020"
    ]
    quiet, paths = run.cycle()
    assert (quiet, paths) == ([], []), "a quiet cycle reads no fills"
    run.fake.liquidate("BTCUSDT", "long", price="89950")
    lines, paths = run.cycle()
    assert paths == ["/api/v2/mix/order/fills"]
    assert lines == [
        "LIQUIDATED BTCUSDT long: 0.5 closed at 89,950 (liq was 90,000), realized -4,525 USDT",
        "ENDED near-liquidation BTCUSDT long [was warning] (liquidated): last 3.74% from"
        " liquidation (fired below 8%); mark 93,500, liq 90,000",
    ]
    assert not any("RESOLVED" in line for line in lines)
    assert run.wired.watcher.state == {}
    assert run.cycle() == ([], [])
    store = Store.open(run.cfg.state_dir)
    try:
        told = [r for r in store.read_history(0) if r.kind == "event"]
    finally:
        store.close()
    assert [(r.rule, r.subject, r.side, r.severity) for r in told] == [
        ("event:liquidated", "BTCUSDT", "long", "critical")
    ]
    assert told[0].text.startswith("LIQUIDATED BTCUSDT long: 0.5 closed at 89,950")


def test_events_without_an_alert_go_to_the_matching_rules_channels_else_the_defaults(run):
    run.fake.set_mark("BTCUSDT", "99000")  # no alert firing anywhere
    assert run.cycle() == ([], [])
    run.fake.liquidate("BTCUSDT", "long", price="89950")
    run.fake.force_reduce("SOLUSDT", "long", "6", price="145")
    outcome = run.wired.watcher.cycle()
    by_channel = {m.channel: list(map(_bare, m.body.split("\n"))) for _, m in outcome.outgoing}
    assert by_channel == {
        "pager": [
            "LIQUIDATED BTCUSDT long: 0.5 closed at 89,950 (liq was 90,000), realized -4,525 USDT"
        ],
        "phone": [
            "PARTIALLY LIQUIDATED SOLUSDT long: 6 of 10 force-reduced at 145, realized -30 USDT"
        ],
    }
    assert {m.title for _, m in outcome.outgoing} == {"riskwatch: 1 critical"}
    assert {m.notify_type for _, m in outcome.outgoing} == {"failure"}


def test_a_traders_close_resolves_as_today_and_sends_no_event(run):
    run.cycle()
    run.fake.close_position("BTCUSDT", "long", price="95000")
    lines, paths = run.cycle()
    assert paths == ["/api/v2/mix/order/fills"]
    assert lines == [
        "RESOLVED near-liquidation BTCUSDT long [was warning]: position closed; last 3.74% from"
        " liquidation (fired below 8%); mark 93,500, liq 90,000"
    ]


def test_fills_unavailable_say_reason_unknown_and_the_alert_ends_closed_maybe(run):
    run.cycle()
    run.fake.liquidate("BTCUSDT", "long")
    run.fake.inject("code", code="40014", path="/api/v2/mix/order/fills")  # refused: no retry
    assert run.cycle()[0] == [] and run.cycle()[0] == [], "waits for the fills a little"
    lines, paths = run.cycle()
    assert paths == ["/api/v2/mix/order/fills"]
    assert lines == [
        "CLOSED? BTCUSDT long: 0.5 closed (reason unknown: fills unavailable) (liq was 90,000)",
        "ENDED near-liquidation BTCUSDT long [was warning] (closed?): last 3.74% from"
        " liquidation (fired below 8%); mark 93,500, liq 90,000",
    ]


def test_a_restart_between_the_vanish_and_the_fills_read_loses_and_doubles_nothing(run):
    run.cycle()
    run.fake.liquidate("BTCUSDT", "long", price="89950")
    run.fake.inject("code", code="40014", path="/api/v2/mix/order/fills", count=1)
    assert run.cycle()[0] == []  # vanished; the fills could not be read: pending, persisted
    run.restart()
    run.fake.clear_faults()
    lines, paths = run.cycle()
    assert paths == ["/api/v2/mix/order/fills"]
    assert lines[0].startswith("LIQUIDATED BTCUSDT long: 0.5 closed at 89,950")
    assert lines[1].startswith("ENDED near-liquidation BTCUSDT long")
    run.restart()
    assert run.cycle() == ([], [])
    queued = run.queued()
    assert sum(line.startswith("LIQUIDATED") for line in queued) == 1
    assert not any(line.startswith("RESOLVED") for line in queued)


def test_a_liquidation_while_riskwatch_was_down_is_noticed_after_the_restart(run):
    run.cycle()
    run.close()
    run.fake.liquidate("BTCUSDT", "long", price="89950")
    run.restart()
    lines, paths = run.cycle()
    assert paths == ["/api/v2/mix/order/fills"]
    assert [line.split(":")[0] for line in lines] == [
        "LIQUIDATED BTCUSDT long",
        "ENDED near-liquidation BTCUSDT long [was warning] (liquidated)",
    ]


@pytest.mark.parametrize("api", ["v2", "v3"])
def test_one_way_mode_and_v3_tell_liquidations_adl_and_closes(tmp_path, api):
    mode = "unified" if api == "v3" else "classic"
    with FakeBitget(account_mode=mode, pos_mode="one_way_mode") as fx:
        book(fx)
        fx.add_position("ETHUSDT", "short", total="4", mark="2500", liquidation="2760")
        r = Run(tmp_path, fx, api=api)
        try:
            r.cycle()
            fx.liquidate("BTCUSDT", "long", price="89950")
            fx.auto_deleverage("ETHUSDT", "short", price="2400")
            fx.close_position("SOLUSDT", "long", price="151")
            lines, paths = r.cycle()
            assert fx.book.fills[0].trade_side == "burst_sell_single"
            if api == "v3":
                assert "/api/v3/trade/history-orders" in paths  # v3 fill rows have no tradeSide
        finally:
            r.close()
    assert sorted(lines) == [
        "AUTO-DELEVERAGED ETHUSDT short: 4 closed by auto-deleveraging at 2,400,"
        " realized +400 USDT",
        "ENDED near-liquidation BTCUSDT long [was warning] (liquidated): last 3.74% from"
        " liquidation (fired below 8%); mark 93,500, liq 90,000",
        "LIQUIDATED BTCUSDT long: 0.5 closed at 89,950 (liq was 90,000), realized -4,525 USDT",
    ], "the trader's close of SOLUSDT (no alert) says nothing"


@pytest.mark.parametrize("api", ["v2", "v3"])
def test_adl_rank_is_a_position_metric_read_while_positions_exist(tmp_path, api):
    mode = "unified" if api == "v3" else "classic"
    with FakeBitget(account_mode=mode) as fx:
        book(fx)
        fx.set_adl_rank("BTCUSDT", "long", "0.93")
        r = Run(tmp_path, fx, api=api)
        try:
            snap = r.wired.watcher.client.fetch_snapshot()
            ranks = {p.symbol: p.adl_rank for p in snap.positions}
            seen = len(fx.requests)
            r.wired.watcher.client.fetch_snapshot()
            adl_reads = [q for q in fx.requests[seen:] if q.path.endswith("adlRank")]
        finally:
            r.close()
    assert {k: str(v) for k, v in ranks.items()} == {"BTCUSDT": "0.93", "SOLUSDT": "0.2"}
    assert adl_reads == [], "at most every 30 s"


def test_a_liquidation_in_stages_is_told_when_the_reduction_was_still_unexplained(run):
    """Bitget reduces, then closes: the close must not hide behind the pending reduction."""
    run.cycle()
    run.fake.force_reduce("BTCUSDT", "long", "0.2", price="90100")
    run.fake.inject("code", code="40014", path="/api/v2/mix/order/fills", count=1)
    assert run.cycle() == ([], ["/api/v2/mix/order/fills"]), "the reduction waits for fills"
    run.fake.liquidate("BTCUSDT", "long", price="89950")
    lines, paths = run.cycle()
    assert paths == ["/api/v2/mix/order/fills"]
    assert [line.split(":")[0] for line in lines] == [
        "LIQUIDATED BTCUSDT long",
        "ENDED near-liquidation BTCUSDT long [was warning] (liquidated)",
    ], lines
    assert lines[0] == (  # both stages' fills: their volume-weighted price, their loss
        "LIQUIDATED BTCUSDT long: 0.5 closed at 90,010 (liq was 90,000), realized -4,495 USDT"
    )
    assert run.cycle() == ([], [])


@pytest.mark.parametrize("skew", [-20.0, 20.0])
def test_fills_are_read_on_bitgets_clock_when_ours_is_off(run, skew):
    """Our clock 20 s ahead of Bitget's (or behind): the fill that closed the position, stamped
    by Bitget's clock, is still asked for and still counts."""
    run.fake.skew(skew)
    run.cycle()
    run.fake.liquidate("BTCUSDT", "long", price="89950")
    lines, _ = run.cycle()
    assert [line.split(":")[0] for line in lines] == [
        "LIQUIDATED BTCUSDT long",
        "ENDED near-liquidation BTCUSDT long [was warning] (liquidated)",
    ], lines


def test_a_reduction_already_told_does_not_make_the_traders_close_a_liquidation(run):
    """The reduction's fill lies within seconds of the sighting that told it: the trader's close
    of the rest, moments later, is a close, not a second (false) liquidation."""
    run.cycle()
    run.fake.force_reduce("BTCUSDT", "long", "0.2", price="90100")
    lines, _ = run.cycle()
    assert [line.split(":")[0] for line in lines] == ["PARTIALLY LIQUIDATED BTCUSDT long"]
    run.fake.close_position("BTCUSDT", "long", price="95000")
    lines, paths = run.cycle()
    assert paths == ["/api/v2/mix/order/fills"]
    assert [line.split(":")[0] for line in lines] == [
        "RESOLVED near-liquidation BTCUSDT long [was warning]"
    ], lines


COIN_M = """\
exchange:
  api: v2
  base_url: {url}
  product_types: [COIN-FUTURES]
  {coin}
  poll_interval: 1s
  timeout: 2s
state_dir: {state}
channels:
  phone: ["console://"]
defaults:
  channels: [phone]
rules: []
"""


def test_positions_no_longer_watched_after_a_restart_are_not_told_as_closed(tmp_path):
    """Adding ``margin_coin: BTC`` hides the ETH-margined position: it did not go."""
    with FakeBitget() as fx:
        for symbol, coin in (("BTCUSD", "BTC"), ("ETHUSD", "ETH")):
            fx.add_position(
                symbol, "long", total="100", mark="2000", liquidation="1000",
                product_type="COIN-FUTURES", margin_coin=coin,
            )  # fmt: skip
        run = Run(tmp_path, fx)
        path = tmp_path / "rules.yaml"
        env = FakeBitget.credentials_env()
        for coin in ("", "margin_coin: BTC"):
            path.write_text(COIN_M.format(url=fx.url, state=tmp_path / "state", coin=coin))
            run.cfg = config.load(str(path), environ=env)
            run.restart()
            said = [run.cycle() for _ in range(4)]
        run.close()
    assert said == [([], [])] * 4, said
