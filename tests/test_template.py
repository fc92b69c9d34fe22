"""The message template: only the alert's fields, no attribute access, never raises."""

from __future__ import annotations

import pytest

from riskwatch.core.metrics import CATALOGUE
from riskwatch.render import template


@pytest.mark.parametrize(
    "tpl",
    [
        "plain text",
        "{symbol} {side}: {liq_gap_pct:.2f}% from liquidation {liquidationPrice}",
        "{value:.2f} vs {threshold:>8.3f} {severity:^10}",
        "{{literal}} {rule}",
        "{unrealizedPLR:.1%} {crossedRiskRate:,.4f}",
    ],
)
def test_good_templates_pass(tpl: str) -> None:
    assert template.check(tpl) is None


@pytest.mark.parametrize(
    ("tpl", "reason"),
    [
        ("{symbol.__class__}", "no attributes"),
        ("{symbol[0]}", "no indexing"),
        ("{unknown}", "unknown field"),
        ("{symbl}", "did you mean {symbol}"),
        ("{}", "positional"),
        ("{0}", "positional"),
        ("{value!r}", "conversions"),
        ("{value:{threshold}}", "nested"),
        ("{value:999999999}", "invalid format spec"),
        ("{symbol", "expected '}'"),
        ("oops }", "Single '}'"),
        ("x" * 3000, "longer than"),
    ],
)
def test_bad_templates_say_why(tpl: str, reason: str) -> None:
    got = template.check(tpl)
    assert got is not None and reason in got


def test_fields_cover_base_fields_and_catalogue() -> None:
    assert {"rule", "severity", "symbol", "value", "threshold"} <= template.FIELDS
    assert {m.name for m in CATALOGUE} <= template.FIELDS


def test_fill_formats_values() -> None:
    out = template.fill("{symbol} {value:.2f} {side}", {"symbol": "BTCUSDT", "value": 3.14159})
    assert out == "BTCUSDT 3.14 n/a"


@pytest.mark.parametrize(
    ("tpl", "values", "expected"),
    [
        ("{symbol:.2f}", {"symbol": "BTC_USDT"}, "BTC_USDT"),  # spec unfit for a str
        ("{value:.2f}", {"value": None}, "n/a"),
        ("{symbol.__class__}", {"symbol": "X"}, "{symbol.__class__}"),  # refused, shown raw
        ("{value}", {"value": 1.5, "__import__": "x"}, "1.5"),
    ],
)
def test_fill_never_raises(tpl: str, values: dict[str, object], expected: str) -> None:
    assert template.fill(tpl, values) == expected


def test_a_template_must_stay_on_one_line() -> None:
    assert template.check("{symbol}\nsecond line") == (
        "must be one line: each alert is one line of the message"
    )
    assert template.check("{symbol}\r") is not None
