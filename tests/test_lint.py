"""Lint: valid rules that cannot do what was meant are warned about, each with its fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from riskwatch.config import load as config
from riskwatch.config.lint import lint

HEAD = "channels: {c: ['console://']}\ndefaults: {channels: [c]}\n"


def warnings_for(tmp_path: Path, rule: str, extra: str = "") -> list[str]:
    f = tmp_path / "rules.yaml"
    f.write_text(HEAD + extra + f"rules:\n  - {{name: r, {rule}}}\n")
    return lint(config.load(str(f), environ={}))


@pytest.mark.parametrize(
    ("rule", "needle"),
    [
        (
            "scope: account, metric: crossedRiskRate, op: '>=', warning: 80",
            "warning 80 is outside 0..1 and can never be reached; write warning: 0.8",
        ),
        ("metric: marginRatio, op: '>=', critical: 90", "write critical: 0.9"),
        ("metric: keepMarginRate, op: '>=', warning: -1", "write a value in 0..1"),
        ("metric: liq_gap_pct, op: '>', warning: 5", "fires while the value is large"),
        ("metric: liq_gap_pct, op: '>', warning: 5", 'write op: "<"'),
        (
            "scope: account, metric: crossedRiskRate, op: '<', warning: 0.5",
            'write op: ">="',
        ),
        (
            "metric: liq_gap_pct, op: '<', warning: 15, hysteresis: 90",
            "clears only at 105 and may never resolve; write a hysteresis below 85",
        ),
        (
            "scope: account, metric: crossedRiskRate, op: '>=', warning: 0.3, hysteresis: 0.5",
            "write a hysteresis below 0.3",
        ),
        (
            "metric: liq_gap_pct, op: '<', warning: 5, repeat: 1s",
            "repeat 1s is shorter than exchange.poll_interval 10s",
        ),
    ],
)
def test_rules_that_cannot_fire_or_fire_while_safe_are_warned(
    tmp_path: Path, rule: str, needle: str
) -> None:
    warnings = warnings_for(tmp_path, rule)
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith("rules[0] (r): ") and needle in warnings[0], warnings


@pytest.mark.parametrize(
    "rule",
    [
        "scope: account, metric: crossedRiskRate, op: '>=', warning: 0.8, hysteresis: 0.1",
        "metric: liq_gap_pct, op: '<', warning: 15, critical: 5, hysteresis: 2, repeat: 10m",
        "metric: unrealizedPLR, op: '>=', warning: 1.5",  # take-profit: unbounded, allowed
        "metric: liq_gap_pct, op: '<', warning: 5, repeat: 0",
    ],
)
def test_sensible_rules_pass_silently(tmp_path: Path, rule: str) -> None:
    assert warnings_for(tmp_path, rule) == []


def test_plain_http_base_url_is_warned_unless_loopback(tmp_path: Path) -> None:
    rule = "metric: liq_gap_pct, op: '<', warning: 5"
    far = warnings_for(tmp_path, rule, "exchange: {base_url: 'http://api.bitget.com'}\n")
    assert len(far) == 1 and "write https://api.bitget.com" in far[0]
    for host in ("127.0.0.1:8080", "localhost", "[::1]:9"):
        assert warnings_for(tmp_path, rule, f"exchange: {{base_url: 'http://{host}'}}\n") == []


def test_defaults_repeat_shorter_than_the_poll_is_warned_once(tmp_path: Path) -> None:
    f = tmp_path / "rules.yaml"
    f.write_text(
        "channels: {c: ['console://']}\ndefaults: {channels: [c], repeat: 2s}\nrules:\n"
        "  - {name: a, metric: liq_gap_pct, op: '<', warning: 5}\n"
        "  - {name: b, metric: liq_gap_pct, op: '<', warning: 9}\n"
    )
    warnings = lint(config.load(str(f), environ={}))
    assert len(warnings) == 1 and warnings[0].startswith("defaults.repeat 2s"), warnings
