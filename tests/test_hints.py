"""Action hints (DESIGN 11, docs/rules.md "Action hints"): one test per formula against the
worked numbers of the docs, then the line a trader reads, then the spot read end to end."""

from __future__ import annotations

import io
from decimal import Decimal as D
from pathlib import Path

import pytest

from riskwatch.config import load as config
from riskwatch.core import hints
from riskwatch.exchange.fake.server import FakeBitget
from riskwatch.render import lines as render
from riskwatch.service.wiring import wire
from tests.engine_support import Run, gap_rule, pos, snap

RULE = gap_rule(warning=15.0, critical=5.0, hysteresis=1.0)


def test_target_gap_is_warning_plus_hysteresis() -> None:
    assert hints.target_gap(RULE) == 16.0
    assert hints.target_gap(gap_rule(warning=None, critical=5.0, hysteresis=1.0)) == 6.0


def test_target_liquidation_long_and_short() -> None:
    assert hints.target_liquidation("long", 100_000, 16) == pytest.approx(84_000)
    assert hints.target_liquidation("short", 2_000, 16) == pytest.approx(2_320)


def test_margin_to_add_moves_liq_by_margin_over_size() -> None:
    assert hints.margin_to_add("long", 86_500, 84_000, 0.5) == pytest.approx(1_250)
    assert hints.margin_to_add("short", 2_200, 2_320, 2) == pytest.approx(240)


def test_mark_at_which_critical_trips() -> None:
    assert hints.mark_at_gap("long", 86_500, 5) == pytest.approx(91_052.63, abs=0.01)
    assert hints.mark_at_gap("short", 2_200, 5) == pytest.approx(2_095.24, abs=0.01)


def _line(position, rule=RULE, spot=None) -> str:
    run = Run(rule)
    (t,) = run.cycle(0, snap(position))
    fig = hints.figures(t, rule)
    return render.line(t, hint=render.hint_text(fig, spot) if fig else "")


def test_isolated_long_line_says_how_much_margin() -> None:
    p = pos(mark_price=D("100000"), liquidation_price=D("86500"), total=D("0.5"))
    p = p.__class__(**{**{f: getattr(p, f) for f in p.__slots__}, "margin_mode": "isolated"})
    assert _line(p, spot={"USDT": 3200.0}) == (
        "WARNING near BTCUSDT long: 13.5% from liquidation (below 15%); mark 100,000, "
        "liq 86,500; add ≈ 1,250 USDT margin to move liq to 84,000; critical at mark 91,053; "
        "spot holds 3,200 USDT to transfer [00:00:00 UTC]"
    )


def test_cross_short_is_marked_as_an_estimate() -> None:
    p = pos("ETHUSDT", side="short", mark_price=D("2000"), liquidation_price=D("2200"))
    p = p.__class__(**{**{f: getattr(p, f) for f in p.__slots__}, "total": D("2")})
    assert "add ≈ 240 USDT equity (cross, estimate) to move liq to ≈ 2,320; " in _line(p)
    assert "critical at mark 2,095" in _line(p)


def test_no_hint_when_nothing_to_say() -> None:
    critical = pos(gap=3.0)  # critical: nothing further trips, still the margin to add
    assert "critical at mark" not in _line(critical) and "add ≈" in _line(critical)
    coin_margined = pos(gap=10.0, product_type="COIN-FUTURES")
    assert "add ≈" not in _line(coin_margined)
    unsafe_op = gap_rule(op=">", warning=50.0, critical=None)
    assert "add ≈" not in _line(pos(gap=60.0), rule=unsafe_op)


RULES = """\
exchange: {{api: v2, base_url: {url}, fallback_url: {url}, poll_interval: 1s}}
state_dir: {state}
channels: {{out: ["console://"]}}
defaults: {{channels: [out], repeat: 1s}}
rules:
  - {{name: near, metric: liq_gap_pct, op: "<", warning: 15, critical: 5, hysteresis: 1}}
"""


def test_spot_is_read_once_a_minute_only_while_a_hint_is_due(tmp_path: Path) -> None:
    clock = [1_800_000_000.0]
    with FakeBitget() as fx:
        fx.add_position(
            "BTCUSDT", "long", mark="100000", liquidation="86500", total="0.5",
            margin_mode="isolated",
        )  # fmt: skip
        fx.set_spot("USDT", "3200.5")
        fx.set_spot("BTC", "1")
        path = tmp_path / "rules.yaml"
        path.write_text(RULES.format(url=fx.url, state=tmp_path / "state"))
        env = FakeBitget.credentials_env()
        cfg = config.load(str(path), environ=env)
        wired = wire(cfg, environ=env, out=io.StringIO(), clock=lambda: clock[0])
        try:
            (msg,) = (m for _, m in wired.watcher.cycle().outgoing)
            assert "add ≈ 1,250 USDT margin to move liq to 84,000" in msg.body
            assert "spot holds 3,200 USDT to transfer" in msg.body
            for step in (2, 2, 60):  # repeats due every cycle; spot re-read after a minute
                clock[0] += step
                wired.watcher.cycle()
            spot_reads = [p for p in fx.paths() if p == "/api/v2/spot/account/assets"]
            assert len(spot_reads) == 2
            fx.set_mark("BTCUSDT", "200000")  # safe: the alert resolves, no hint is due
            clock[0] += 120
            wired.watcher.cycle()
            clock[0] += 120
            wired.watcher.cycle()
            assert fx.paths().count("/api/v2/spot/account/assets") == 2
        finally:
            for close in wired.hooks.closers:
                close()


def test_a_refused_spot_read_leaves_the_hint_without_it(tmp_path: Path) -> None:
    with FakeBitget() as fx:
        fx.add_position("BTCUSDT", "long", mark="100000", liquidation="86500", total="0.5")
        fx.inject("code", code="40014", path="/api/v2/spot/account/assets")  # no permission
        path = tmp_path / "rules.yaml"
        path.write_text(RULES.format(url=fx.url, state=tmp_path / "state"))
        env = FakeBitget.credentials_env()
        wired = wire(config.load(str(path), environ=env), environ=env, out=io.StringIO())
        try:
            (msg,) = (m for _, m in wired.watcher.cycle().outgoing)
        finally:
            for close in wired.hooks.closers:
                close()
    assert "add ≈ 1,250 USDT equity" in msg.body and "spot" not in msg.body


def test_the_simulator_checks_the_spot_reads_signature() -> None:
    from riskwatch.errors import AuthError
    from riskwatch.exchange import build_client
    from riskwatch.exchange.credentials import Credentials
    from riskwatch.model import ExchangeSettings

    with FakeBitget() as fx:
        fx.set_spot("USDT", "12.5")
        settings = ExchangeSettings(api="v2", base_url=fx.url, fallback_url=None, timeout=2.0)
        good = Credentials(fx.API_KEY, fx.API_SECRET, fx.PASSPHRASE)
        client = build_client(settings, good)
        assert client.spot_available("usdt") == D("12.5")  # type: ignore[attr-defined]
        assert client.spot_available("ETH") is None  # type: ignore[attr-defined]
        client.close()
        bad = build_client(settings, Credentials(fx.API_KEY, "wrong", fx.PASSPHRASE))
        with pytest.raises(AuthError) as err:
            bad.spot_available("USDT")  # type: ignore[attr-defined]
        bad.close()
    assert err.value.code == "40009"


def test_a_spot_read_is_bounded_well_inside_the_fetch_budget(monkeypatch) -> None:
    """The spot read runs in the cycle, before the line that mentions it is sent: a spot
    endpoint that keeps failing must not hold a critical line back for a whole fetch budget."""
    from riskwatch.exchange import build_client, spot
    from riskwatch.exchange.credentials import Credentials
    from riskwatch.exchange.transport import Transport
    from riskwatch.model import ExchangeSettings

    asked: list[float] = []

    def get(self: Transport, path: str, params=None, *, deadline=None, **kw):
        asked.append(deadline - self._clock())
        return {}

    monkeypatch.setattr(Transport, "get", get)
    settings = ExchangeSettings(api="v2", base_url="http://127.0.0.1:9", poll_interval=30.0)
    client = build_client(settings, Credentials("k", "s", "p"))
    try:
        assert client.spot_available("USDT") is None  # type: ignore[attr-defined]
    finally:
        client.close()
    assert len(asked) == 1 and asked[0] <= spot.BUDGET


def test_a_line_is_stamped_by_the_wall_clock_after_it_was_set(tmp_path: Path) -> None:
    """A host that starts before NTP sets its clock (a Raspberry Pi has no RTC): durations
    stay on the steady clock, but the time a trader reads must be the one on their phone."""
    from riskwatch.service.clock import SteadyClock

    wall, mono = [1_800_000_000.0], [100.0]  # 2027-01-15 08:00:00 UTC
    clock = SteadyClock(wall=lambda: wall[0], monotonic=lambda: mono[0])
    with FakeBitget() as fx:
        fx.add_position("BTCUSDT", "long", mark="100000", liquidation="86500", total="0.5")
        path = tmp_path / "rules.yaml"
        path.write_text(RULES.format(url=fx.url, state=tmp_path / "state"))
        env = FakeBitget.credentials_env()
        wired = wire(config.load(str(path), environ=env), environ=env, out=io.StringIO(),
                     clock=clock)  # fmt: skip
        try:
            wall[0] += 3 * 3600 + 2.0  # NTP sets the clock three hours forward
            mono[0] += 2.0
            (msg,) = (m for _, m in wired.watcher.cycle().outgoing)
        finally:
            for close in wired.hooks.closers:
                close()
    assert msg.body.endswith("[11:00:02 UTC]"), msg.body


def test_a_coin_first_seen_within_the_minute_is_read_at_once() -> None:
    """A USDC line 10 s after a USDT one: its spot figure must not wait for the minute."""
    from riskwatch.service.spot import SpotBalances

    class Client:
        def __init__(self) -> None:
            self.asked: list[str] = []

        def spot_available(self, coin: str) -> D:
            self.asked.append(coin)
            return D("7")

    client, now = Client(), [0.0]
    spot = SpotBalances(client, lambda: now[0])
    assert spot.available({"USDT"}) == {"USDT": 7.0}
    now[0] = 10.0
    assert spot.available({"USDT", "USDC"}) == {"USDT": 7.0, "USDC": 7.0}
    now[0] = 20.0
    assert spot.available({"USDT", "USDC"}) == {"USDT": 7.0, "USDC": 7.0}
    assert client.asked == ["USDT", "USDC"]  # each coin at most once a minute


def test_a_silenced_line_in_the_history_is_stamped_like_a_sent_one() -> None:
    from datetime import UTC

    from riskwatch.model import Transition
    from riskwatch.service.answering import Answering

    t = Transition(
        key=("near", "USDT-FUTURES", "BTCUSDT", "long", "default"), kind="firing",
        severity="warning", previous_severity=None, rule="near", metric="liq_gap_pct",
        value=13.5, threshold=15.0, op="<", at=1_800_000_000.0, channels=("out",),
        fields=(("symbol", "BTCUSDT"), ("side", "long")),
    )  # fmt: skip
    answering = Answering(None)
    answering.muted = ((t, "silenced"),)
    (rec,) = answering.muted_records(UTC, 3 * 3600.0)  # the wall clock set 3 h forward
    assert rec.text.endswith("[11:00:00 UTC]") and rec.text == render.line(t, UTC, shift=10800)
