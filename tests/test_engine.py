"""Alert lifecycle through engine.evaluate, with ``now`` passed in (DESIGN sections 4 and 8)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal as D

import pytest

from riskwatch.core import engine
from riskwatch.model import Account, Defaults, Match, Rule
from riskwatch.store.db import state_from_json, state_to_json
from tests.engine_support import (
    PT,
    Run,
    gap_rule,
    key,
    kinds,
    pos,
    snap,
)

# --------------------------------------------------------------------------- severity / ops


@pytest.mark.parametrize(
    ("op", "warning", "critical", "value", "expected"),
    [
        ("<", 15, 5, 20, None),
        ("<", 15, 5, 15, None),
        ("<", 15, 5, 14.99, "warning"),
        ("<", 15, 5, 5, "warning"),
        ("<", 15, 5, 4.99, "critical"),
        ("<=", 15, 5, 15, "warning"),
        ("<=", 15, 5, 5, "critical"),
        ("<=", 15, 5, 15.01, None),
        (">", 0.5, 0.8, 0.5, None),
        (">", 0.5, 0.8, 0.51, "warning"),
        (">", 0.5, 0.8, 0.81, "critical"),
        (">=", 0.5, 0.8, 0.5, "warning"),
        (">=", 0.5, 0.8, 0.8, "critical"),
        (">=", None, 0.8, 0.79, None),
        (">=", None, 0.8, 0.8, "critical"),
        ("<=", -0.5, None, -0.5, "warning"),
        ("<", 15, 5, None, None),
        ("<", 15, 5, float("nan"), None),
    ],
)
def test_severity_per_op(op, warning, critical, value, expected) -> None:
    rule = Rule("r", "liq_gap_pct", op, warning=warning, critical=critical)
    assert engine.severity(rule, value) == expected


@pytest.mark.parametrize(
    ("value", "current", "expected"),
    [
        (16.0, "warning", "warning"),  # inside the band: stays
        (17.0, "warning", None),  # 15 + 2: clears
        (16.0, None, None),  # not firing: no band
        (6.5, "critical", "critical"),  # 5 + 2 band holds critical
        (7.0, "critical", "warning"),  # past the critical band: back to warning
        (4.9, "warning", "critical"),  # escalation ignores the band
    ],
)
def test_severity_hysteresis(value, current, expected) -> None:
    rule = Rule("r", "liq_gap_pct", "<", warning=15, critical=5, hysteresis=2)
    assert engine.severity(rule, value, current) == expected


def test_severity_hysteresis_for_greater_than_moves_down() -> None:
    rule = Rule("r", "crossedRiskRate", ">=", critical=0.8, hysteresis=0.1)
    assert engine.severity(rule, 0.75, "critical") == "critical"
    assert engine.severity(rule, 0.7, "critical") is None


# --------------------------------------------------------------------------- matches


@pytest.mark.parametrize(
    ("match", "expected"),
    [
        (Match(), True),
        (Match(symbol=("btc*",)), True),
        (Match(symbol=("eth*",)), False),
        (Match(symbol=("eth*", "btc*")), True),
        (Match(side=("long",)), True),
        (Match(side=("short",)), False),
        (Match(product_type=("usdt-*",)), True),
        (Match(margin_coin=("usdc",)), False),
        (Match(symbol=("btc?sdt",), margin_coin=("usdt",)), True),
    ],
)
def test_matches_globs_case_insensitively(match: Match, expected: bool) -> None:
    rule = gap_rule(match=match)
    assert engine.matches(rule, pos("BTCUSDT")) is expected


def test_matches_checks_scope() -> None:
    account = Account(PT, "USDT", crossed_risk_rate=D("0.9"))
    position_rule = gap_rule()
    account_rule = Rule("acct", "crossedRiskRate", ">=", critical=0.8, scope="account")
    assert engine.matches(position_rule, account) is False
    assert engine.matches(account_rule, pos()) is False
    assert engine.matches(account_rule, account) is True
    only_usdc = dataclasses.replace(account_rule, match=Match(margin_coin=("usdc",)))
    assert engine.matches(only_usdc, account) is False


def test_match_filter_limits_evaluation() -> None:
    run = Run(gap_rule(match=Match(symbol=("eth*",))))
    out = run.cycle(0, snap(pos("BTCUSDT", gap=1), pos("ETHUSDT", gap=1)))
    assert [t.key for t in out] == [key(symbol="ETHUSDT")]


# --------------------------------------------------------------------------- lifecycle


def test_fires_once_then_stays_quiet() -> None:
    run = Run(gap_rule())
    assert run.gap(0, 20) == []
    assert run.state == {}
    assert run.gap(10, 10) == ["firing:warning"]
    assert run.gap(20, 9) == []
    state = run.state[key()]
    assert (state.status, state.severity, state.since, state.last_sent_at) == (
        "firing", "warning", 10, 10,
    )  # fmt: skip


def test_transition_carries_fields_for_render_and_templates() -> None:
    run = Run(gap_rule())
    (t,) = run.cycle(0, snap(pos(gap=10)))
    f = t.field_map()
    assert (f["symbol"], f["side"], f["product_type"], f["margin_coin"]) == (
        "BTCUSDT", "long", PT, "USDT",
    )  # fmt: skip
    assert f["markPrice"] == 1000.0 and f["liquidationPrice"] == 900.0
    assert f["liq_gap_pct"] == pytest.approx(10.0)
    assert "notional" in f and "unrealizedPLR" in f
    assert (t.metric, t.op, t.threshold, t.channels) == ("liq_gap_pct", "<", 15.0, ("phone",))


def test_for_gates_first_firing() -> None:
    run = Run(gap_rule(for_=30.0))
    assert run.gap(0, 10) == []
    assert run.state[key()].status == "pending"
    assert run.gap(20, 10) == []
    assert run.gap(30, 10) == ["firing:warning"]
    assert run.state[key()].since == 30


def test_for_resets_when_condition_drops() -> None:
    run = Run(gap_rule(for_=30.0))
    run.gap(0, 10)
    assert run.gap(20, 20) == []
    assert key() not in run.state
    assert run.gap(30, 10) == []  # the clock started over at 30
    assert run.gap(55, 10) == []
    assert run.gap(60, 10) == ["firing:warning"]


def test_for_does_not_gate_escalation() -> None:
    run = Run(gap_rule(for_=30.0))
    run.gap(0, 10)
    assert run.gap(30, 10) == ["firing:warning"]
    assert run.gap(31, 1) == ["escalated:critical"]


def test_pending_fires_at_the_severity_it_has_when_for_elapses() -> None:
    run = Run(gap_rule(for_=30.0))
    run.gap(0, 10)
    assert run.gap(30, 1) == ["firing:critical"]


def test_repeat_due_and_not_due() -> None:
    run = Run(gap_rule(repeat=600.0))
    assert run.gap(0, 10) == ["firing:warning"]
    assert run.gap(599, 10) == []
    assert run.gap(600, 10) == ["repeat:warning"]
    assert run.gap(1199, 10) == []
    assert run.gap(1200, 10) == ["repeat:warning"]


def test_repeat_zero_never_repeats() -> None:
    run = Run(gap_rule(repeat=0.0))
    run.gap(0, 10)
    assert run.gap(10**7, 10) == []


def test_worsen_by_resends_at_once_and_restarts_repeat_clock() -> None:
    run = Run(gap_rule(worsen_by=2.0, repeat=600.0))
    run.gap(0, 14)
    assert run.gap(10, 12.5) == []  # moved 1.5
    assert run.gap(20, 12) == ["worsened:warning"]  # moved 2 since the last message
    assert run.state[key()].last_sent_value == pytest.approx(12)
    assert run.gap(30, 13) == []  # toward safety: not worse
    assert run.gap(600, 12) == []  # repeat counts from 20 now
    assert run.gap(620, 12) == ["repeat:warning"]


def test_escalation_is_immediate_and_deescalation_sends_one_line() -> None:
    run = Run(gap_rule())
    assert run.gap(0, 10) == ["firing:warning"]
    out = run.cycle(10, snap(pos(gap=4)))
    assert kinds(out) == ["escalated:critical"]
    assert out[0].previous_severity == "warning"
    out = run.cycle(20, snap(pos(gap=8)))
    assert kinds(out) == ["deescalated:warning"]
    assert out[0].previous_severity == "critical"
    assert run.gap(30, 8) == []


def test_hysteresis_band() -> None:
    run = Run(gap_rule(hysteresis=2.0))
    assert run.gap(0, 14) == ["firing:warning"]
    assert run.gap(10, 16) == []  # inside 15..17: still firing
    assert run.state[key()].status == "firing"
    assert run.gap(20, 16.9) == []
    assert run.gap(30, 17) == ["resolved:warning"]
    assert run.state == {}


def test_hysteresis_gates_critical_to_warning() -> None:
    run = Run(gap_rule(hysteresis=2.0))
    assert run.gap(0, 4) == ["firing:critical"]
    assert run.gap(10, 6) == []  # 5..7 band keeps critical
    assert run.gap(20, 7) == ["deescalated:warning"]


def test_resolve_by_value() -> None:
    run = Run(gap_rule())
    run.gap(0, 10)
    (t,) = run.cycle(10, snap(pos(gap=20)))
    assert (t.kind, t.reason, t.severity) == ("resolved", "cleared", "warning")
    assert t.value == pytest.approx(20)
    assert run.state == {}


def test_position_closed_resolves_with_last_known_values() -> None:
    run = Run(gap_rule())
    run.gap(0, 10)
    (t,) = run.cycle(10, snap())
    assert (t.kind, t.reason) == ("resolved", "position closed")
    assert t.field_map()["symbol"] == "BTCUSDT"
    assert t.field_map()["markPrice"] == 1000.0
    assert t.value == pytest.approx(10)
    assert run.state == {}


def test_missing_product_type_does_not_close_and_for_keeps_running() -> None:
    run = Run(gap_rule(for_=30.0))
    run.gap(0, 10)
    assert run.cycle(10, snap(fetched=frozenset())) == []
    assert run.state[key()].status == "pending"
    assert run.gap(30, 10) == ["firing:warning"]  # timer kept running from 0
    assert run.cycle(40, snap(fetched=frozenset({"COIN-FUTURES"}))) == []
    assert run.state[key()].status == "firing"


def test_snapshot_none_changes_nothing() -> None:
    run = Run(gap_rule(for_=30.0))
    run.gap(0, 10)
    before = dict(run.state)
    assert run.cycle(20, None) == []
    assert run.state == before
    assert run.gap(30, 10) == ["firing:warning"]
    assert run.cycle(10**6, None) == []  # no repeat without fresh data
    assert run.state[key()].status == "firing"


def test_undefined_metric_resolves() -> None:
    run = Run(gap_rule())
    run.gap(0, 10)
    (t,) = run.cycle(10, snap(pos(gap=None)))
    assert (t.kind, t.reason) == ("resolved", "no liquidation price")
    assert run.state == {}


def test_rule_removed_resolves_to_old_channels() -> None:
    run = Run(gap_rule(channels=("team",)))
    run.gap(0, 10)
    (t,) = run.cycle(10, snap(pos(gap=10)), rules=())
    assert (t.kind, t.reason, t.channels, t.rule) == ("resolved", "rule removed", ("team",), "near")
    assert run.state == {}


@pytest.mark.parametrize(
    "change",
    [
        {"metric": "unrealizedPLR", "warning": -0.5, "critical": None},
        {"op": "<="},
        {"scope": "account", "metric": "crossedRiskRate", "op": ">=", "warning": 0.5},
    ],
)
def test_rule_changed_resolves(change: dict) -> None:
    run = Run(gap_rule())
    run.gap(0, 10)
    out = run.cycle(10, snap(pos(gap=10)), rules=(gap_rule(**change),))
    resolved = [t for t in out if t.kind == "resolved"]
    assert [(t.reason, t.key) for t in resolved] == [("rule changed", key())]


def test_rule_thresholds_changed_keeps_state() -> None:
    run = Run(gap_rule())
    run.gap(0, 10)
    since = run.state[key()].since
    assert run.gap(10, 10, rules=(gap_rule(warning=12.0, critical=3.0, hysteresis=1),)) == []
    assert run.state[key()].since == since
    assert run.gap(20, 12.5) == []  # 12 + 1 band: still firing under the new thresholds
    assert run.gap(30, 13) == ["resolved:warning"]


def test_a_removed_rule_says_so_even_when_resolves_are_off() -> None:
    run = Run(
        gap_rule(send_resolved=False), defaults=Defaults(channels=("x",), send_resolved=False)
    )
    run.gap(0, 10)
    (t,) = run.cycle(10, snap(pos(gap=10)), rules=())
    assert (t.kind, t.reason) == ("resolved", "rule removed")


def test_send_resolved_false_removes_state_silently() -> None:
    run = Run(gap_rule(send_resolved=False))
    run.gap(0, 10)
    assert run.gap(10, 20) == []
    assert run.state == {}


def test_channels_default_to_defaults() -> None:
    run = Run(gap_rule(channels=()))
    (t,) = run.cycle(0, snap(pos(gap=10)))
    assert t.channels == ("phone",)


def test_position_keys_per_side_and_symbol() -> None:
    run = Run(gap_rule())
    out = run.cycle(0, snap(pos("BTCUSDT", 10), pos("BTCUSDT", 4, side="short"), pos("ETH", 20)))
    assert sorted(t.key for t in out) == [key(side="long"), key(side="short")]
    assert {t.key: t.severity for t in out}[key(side="short")] == "critical"


def test_account_rule_keys_and_resolves() -> None:
    rule = Rule("acct", "crossedRiskRate", ">=", critical=0.8, scope="account", channels=("x",))
    run = Run(rule)
    account = Account(PT, "USDT", crossed_risk_rate=D("0.9"))
    (t,) = run.cycle(0, snap(accounts=(account,)))
    assert t.key == ("acct", PT, "USDT", "", "default")
    assert t.field_map()["margin_coin"] == "USDT"
    calm = dataclasses.replace(account, crossed_risk_rate=D("0.1"))
    assert kinds(run.cycle(10, snap(accounts=(calm,)))) == ["resolved:critical"]


def test_a_closed_position_line_shows_its_last_known_values() -> None:
    run = Run(gap_rule())
    run.gap(0, 14)  # fires (warning) at a 14 % gap
    run.gap(10, 6)  # drifts toward liquidation; still warning: nothing said, state unchanged
    (t,) = run.cycle(20, snap())  # gone from a product type read whole
    assert (t.kind, t.reason) == ("resolved", "position closed")
    assert t.value == pytest.approx(6.0)
    assert t.field_map()["liq_gap_pct"] == pytest.approx(6.0)
    assert t.field_map()["markPrice"] == 1000.0


def test_after_a_restart_a_closed_line_falls_back_to_the_stored_values() -> None:
    run = Run(gap_rule())
    run.gap(0, 14)
    run.last = None  # a restart: no previous snapshot in memory
    (t,) = run.cycle(20, snap())
    assert t.value == pytest.approx(14.0)


def test_an_account_is_gone_only_when_its_accounts_were_read() -> None:
    rule = Rule("acct", "crossedRiskRate", ">=", critical=0.8, scope="account", channels=("x",))
    run = Run(rule)
    run.cycle(0, snap(accounts=(Account(PT, "USDT", crossed_risk_rate=D("0.9")),)))
    # positions read, the accounts endpoint failed: nothing changes
    assert run.cycle(10, snap(accounts_fetched=frozenset())) == []
    assert run.state[("acct", PT, "USDT", "", "default")].status == "firing"
    # accounts read and the account is absent: gone
    (t,) = run.cycle(20, snap())
    assert (t.kind, t.reason) == ("resolved", "account gone")


def test_a_product_type_read_with_skipped_rows_closes_nothing() -> None:
    run = Run(gap_rule())
    run.gap(0, 10)
    assert run.cycle(10, snap(fetched=frozenset())) == []  # the row was skipped as malformed
    assert run.state[key()].status == "firing"


def test_unified_account_key() -> None:
    rule = Rule("acct", "mgnRatio", ">=", critical=0.8, scope="account")
    run = Run(rule)
    account = Account("unified", "USDT", mgn_ratio=D("0.9"))
    (t,) = run.cycle(0, snap(accounts=(account,)))
    assert t.key == ("acct", "unified", "USDT", "", "default")


def test_match_change_that_excludes_a_firing_position_resolves_it() -> None:
    run = Run(gap_rule())
    run.gap(0, 10)
    narrowed = (gap_rule(match=Match(symbol=("eth*",))),)
    (t,) = run.cycle(10, snap(pos(gap=10)), rules=narrowed)
    assert (t.kind, t.reason) == ("resolved", "no longer matches the rule")


def test_input_state_is_not_mutated() -> None:
    run = Run(gap_rule())
    run.gap(0, 10)
    before = dict(run.state)
    out, nxt = engine.evaluate(run.rules, snap(), before, 10)
    assert key() in before and nxt == {}
    assert kinds(out) == ["resolved:warning"]


def test_state_plain_round_trip_through_json() -> None:
    run = Run(gap_rule(), Rule("acct", "crossedRiskRate", ">=", critical=0.8, scope="account"))
    run.cycle(0, snap(pos(gap=4), accounts=(Account(PT, "USDT", crossed_risk_rate=D("0.9")),)))
    assert len(run.state) == 2
    assert {k: state_from_json(state_to_json(s)) for k, s in run.state.items()} == run.state


def test_state_survives_restart_without_early_repeat() -> None:
    run = Run(gap_rule(repeat=600.0))
    run.gap(0, 10)
    reloaded = {k: state_from_json(state_to_json(s)) for k, s in run.state.items()}
    run.state = reloaded
    assert run.gap(300, 10) == []
    assert run.gap(600, 10) == ["repeat:warning"]
