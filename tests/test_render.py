"""Rendering: one line per alert, one grouped plain-text message per destination, splitting."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from riskwatch.model import Account, Rule, Transition
from riskwatch.render import lines as render
from tests.engine_support import PT, Run, gap_rule, pos, snap

PHONE = {"phone": ["dest-phone"]}


def fire(*positions, rule=None):
    run = Run(rule or gap_rule())
    return run, run.cycle(0, snap(*positions))


def test_firing_line_names_everything() -> None:
    _, (t,) = fire(pos("BTCUSDT", gap=3.2144, side="short"))
    assert render.line(t) == (
        "CRITICAL near BTCUSDT short: 3.21% from liquidation (below 5%); "
        "mark 1,000, liq 1,032.144 [00:00:00 UTC]"
    )


def test_title_counts_by_current_severity() -> None:
    run = Run(gap_rule())
    run.cycle(0, snap(pos("A", 10), pos("B", 10), pos("C", 10), pos("D", 10)))
    out = run.cycle(10, snap(pos("A", 4), pos("B", 3), pos("C", 10), pos("E", 12)))
    # A, B escalated (critical), E new warning, D closed (resolved); C silent
    (_, msg), = render.messages_for(out, PHONE, 10.0)  # fmt: skip
    assert msg.title == "riskwatch: 2 critical, 1 warning, 1 resolved"
    lines = msg.body.split("\n")
    assert len(lines) == 4
    assert lines[0].startswith("CRITICAL near A long [warning -> critical]: ")
    assert lines[1].startswith("CRITICAL near B long [warning -> critical]: ")
    assert lines[2].startswith("WARNING near E long: ")
    assert lines[3] == (
        "RESOLVED near D long [was warning]: position closed; last 10% from liquidation"
        " (fired below 15%); mark 1,000, liq 900 [00:00:10 UTC]"
    )
    assert msg.keys == tuple(t.key for t in sorted(out, key=render._order))
    assert msg.channel == "phone" and msg.created_at == 10.0


def test_kinds_are_marked() -> None:
    run = Run(gap_rule(worsen_by=2.0, repeat=600.0))
    run.cycle(0, snap(pos(gap=14)))
    (worse,) = run.cycle(10, snap(pos(gap=11)))
    (esc,) = run.cycle(20, snap(pos(gap=4)))
    (de,) = run.cycle(30, snap(pos(gap=8)))
    (rep,) = run.cycle(630, snap(pos(gap=8)))
    (res,) = run.cycle(640, snap(pos(gap=None)))
    assert "[worsened]" in render.line(worse)
    assert "[warning -> critical]" in render.line(esc)
    assert render.line(de).startswith("WARNING near BTCUSDT long [critical -> warning]: ")
    assert "[still firing]" in render.line(rep)
    assert ": no liquidation price; last 8% from liquidation" in render.line(res)


def test_resolved_by_value_line() -> None:
    run = Run(gap_rule())
    run.cycle(0, snap(pos(gap=10)))
    (t,) = run.cycle(10, snap(pos(gap=20)))
    assert render.line(t) == (
        "RESOLVED near BTCUSDT long [was warning]: back to 20% from liquidation "
        "(fired below 15%); mark 1,000, liq 800 [00:00:10 UTC]"
    )


def test_account_line_names_margin_coin() -> None:
    rule = Rule("acct", "crossedRiskRate", ">=", critical=0.8, scope="account", channels=("p",))
    run = Run(rule)
    account = Account(PT, "USDT", account_equity=D("10582.90"), crossed_risk_rate=D("0.85"))
    (t,) = run.cycle(0, snap(accounts=(account,)))
    assert render.line(t) == (
        "CRITICAL acct USDT USDT-FUTURES: account risk 0.85 (at or above 0.8); "
        "equity 10,582.9 [00:00:00 UTC]"
    )


def test_template_replaces_only_the_detail() -> None:
    tpl = "{symbol} {side}: mark {markPrice} is {liq_gap_pct:.2f}% from liquidation "
    tpl += "{liquidationPrice}"
    _, (t,) = fire(pos("BTC_USDT", gap=3.5), rule=gap_rule(message=tpl))
    assert render.line(t) == (
        "CRITICAL near BTC_USDT long: BTC_USDT long: mark 1000 is 3.50% from liquidation 965"
        " [00:00:00 UTC]"
    )


def test_template_fields_rule_value_threshold() -> None:
    _, (t,) = fire(pos(gap=3.5), rule=gap_rule(message="{rule}/{severity}/{value:.1f}<{threshold}"))
    assert render.line(t).endswith(": near/critical/3.5<5 [00:00:00 UTC]")


def test_symbols_with_markup_characters_survive() -> None:
    _, (t,) = fire(pos("BTC_USDT*", gap=10))
    (_, msg), = render.messages_for([t], PHONE, 0.0)  # fmt: skip
    assert "BTC_USDT*" in msg.body
    assert "\\_" not in msg.body and "<" not in msg.title


def test_one_message_per_destination_and_dedupe() -> None:
    run = Run(gap_rule(channels=("phone", "team")))
    out = run.cycle(0, snap(pos("A", 10), pos("B", 3)))
    routes = {"phone": ["tg"], "team": ["tg", "slack"]}
    result = render.messages_for(out, routes, 0.0)
    assert [d for d, _ in result] == ["tg", "slack"]
    tg = dict(result)["tg"]
    assert tg.channel == "phone"
    assert tg.body.count("\n") == 1  # two lines, once each although both channels reach tg
    assert dict(result)["slack"].channel == "team"


def test_messages_for_nothing_is_nothing() -> None:
    assert render.messages_for([], PHONE, 0.0) == []


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (93203.4, "93203.4"),
        (0.1 + 0.2, "0.3"),
        (100.0, "100"),
        (-9880613.7641839999, "-9880613.764"),
        (0.00001234, "0.00001234"),
        (1e20, "100000000000000000000"),
        (None, "none"),
    ],
)
def test_numbers_without_float_noise(value, text) -> None:
    assert render.num(value) == text


def test_builtin_line_carries_its_text() -> None:
    t = Transition(
        key=("riskwatch-config", "", "", ""),
        kind="firing",
        severity="warning",
        previous_severity=None,
        rule="riskwatch-config",
        metric="",
        value=1.0,
        threshold=None,
        op=None,
        at=0.0,
        channels=("phone",),
        fields=(("text", "rules.yaml:3:7: rules[0].op: bad"),),
        builtin=True,
    )
    assert render.line(t) == (
        "WARNING riskwatch-config: rules.yaml:3:7: rules[0].op: bad [00:00:00 UTC]"
    )


# --------------------------------------------------------------------------- split


def test_split_short_text_is_one_part() -> None:
    assert render.split("a\nb", 4096) == ["a\nb"]


def test_split_on_line_boundaries_numbered_within_limit() -> None:
    text = "\n".join(f"line {n:03d} " + "x" * 40 for n in range(100))
    parts = render.split(text, 500)
    assert all(len(p) <= 500 for p in parts)
    n = len(parts)
    assert parts[0].startswith(f"(1/{n}) ") and parts[-1].startswith(f"({n}/{n}) ")
    unnumbered = [p.split(" ", 1)[1] for p in parts]
    assert "\n".join(unnumbered) == text  # nothing lost, no line broken
    plain = render.split(text, 500, numbered=False)
    assert "\n".join(plain) == text and all(len(p) <= 500 for p in plain)


def test_split_hard_cuts_an_overlong_line() -> None:
    parts = render.split("y" * 250, 100, numbered=False)
    assert parts == ["y" * 100, "y" * 100, "y" * 50]
    assert all(len(p) <= 100 for p in render.split("y" * 250, 100))


def test_split_many_parts_still_fit() -> None:
    parts = render.split("\n".join("z" * 8 for _ in range(300)), 20)
    assert len(parts) >= 100 and all(len(p) <= 20 for p in parts)
    assert parts[0].startswith(f"(1/{len(parts)}) ")


def test_storm_of_200_positions_is_a_handful_of_messages() -> None:
    run = Run(gap_rule())
    positions = [pos(f"SYM{n:03d}_USDT", gap=1 + (n % 13)) for n in range(200)]
    out = run.cycle(0, snap(*positions))
    assert len(out) == 200
    (_, msg), = render.messages_for(out, PHONE, 0.0)  # fmt: skip
    lines = msg.body.split("\n")
    assert len(lines) == 200
    crit = sum(1 for t in out if t.severity == "critical")
    assert msg.title == f"riskwatch: {crit} critical, {200 - crit} warnings"
    assert lines[0].startswith("CRITICAL") and lines[-1].startswith("WARNING")
    parts = render.split(msg.body, 4096)
    assert 2 <= len(parts) <= 8
    assert all(len(p) <= 4096 for p in parts)
    assert "SYM007_USDT" in msg.body
