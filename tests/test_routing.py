"""Routing by severity (DESIGN 11): escalations to the critical channels, later lines to the
channels that were told, a critical-only channel never hears a warning."""

from __future__ import annotations

import pytest

from riskwatch.cli.main import main
from riskwatch.config import load as config
from riskwatch.delivery.fake import Receiver
from riskwatch.errors import ConfigError
from riskwatch.exchange.fake.server import FakeBitget
from tests.engine_support import Run, gap_rule, pos, snap

SPLIT = {"channels": ("phone",), "critical_channels": ("phone", "pager")}


def said(run: Run, now: float, gap: float | None) -> list[tuple[str, tuple[str, ...]]]:
    return [(t.kind, t.channels) for t in run.cycle(now, snap(pos(gap=gap)))]


def test_warning_to_phone_escalation_to_both_then_everyone_told() -> None:
    run = Run(gap_rule(repeat=100.0, **SPLIT))
    assert said(run, 0, 10) == [("firing", ("phone",))]
    assert said(run, 10, 3) == [("escalated", ("phone", "pager"))]
    assert said(run, 120, 3) == [("repeat", ("phone", "pager"))]
    assert said(run, 130, 8) == [("deescalated", ("phone", "pager"))]
    assert said(run, 140, 30) == [("resolved", ("phone", "pager"))]


def test_pager_only_for_criticals_and_what_it_was_told() -> None:
    run = Run(gap_rule(repeat=100.0, channels=("phone",), critical_channels=("pager",)))
    assert said(run, 0, 10) == [("firing", ("phone",))]
    assert said(run, 10, 3) == [("escalated", ("pager",))]
    assert said(run, 20, 30) == [("resolved", ("phone", "pager"))]
    run = Run(gap_rule(repeat=100.0, channels=("phone",), critical_channels=("pager",)))
    assert said(run, 0, 3) == [("firing", ("pager",))]
    assert said(run, 120, 8) == [("deescalated", ("pager",))]  # told: the pager only


def test_a_warning_repeat_after_a_deescalation_never_pages_a_critical_only_channel() -> None:
    run = Run(gap_rule(repeat=100.0, channels=("phone",), critical_channels=("pager",)))
    assert said(run, 0, 10) == [("firing", ("phone",))]
    assert said(run, 10, 3) == [("escalated", ("pager",))]
    assert said(run, 20, 8) == [("deescalated", ("phone", "pager"))]  # the pager hears it eased
    assert said(run, 130, 8) == [("repeat", ("phone",))]  # a warning: not the pager's
    assert said(run, 140, 30) == [("resolved", ("phone", "pager"))]


def test_a_rule_without_channels_inherits_the_defaults_mapping(tmp_path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "channels: {phone: ['console://'], pager: ['console://stderr']}\n"
        "defaults:\n  channels: {warning: [phone], critical: [phone, pager]}\n"
        "rules:\n"
        "  - {name: a, metric: liq_gap_pct, op: '<', warning: 8, critical: 4}\n"
        "  - {name: b, metric: liq_gap_pct, op: '<', warning: 8, channels: [pager]}\n"
        "  - {name: c, metric: liq_gap_pct, op: '<', warning: 8, channels: {warning: [phone]}}\n"
    )
    cfg = config.load(str(path))
    a, b, c = cfg.rules
    assert (a.channels_for("warning"), a.channels_for("critical")) == (
        ("phone",),
        ("phone", "pager"),
    )
    assert (b.channels, b.critical_channels) == (("pager",), None)
    assert c.channels_for("critical") == ("phone",)  # criticals never go nowhere
    from riskwatch.cli.check import summary

    said = [line for line in summary(cfg) if line.startswith("rule ")]
    assert said[0].endswith("-> warning: phone; critical: phone, pager")
    assert said[1].endswith("-> pager") and said[2].endswith("-> phone")


@pytest.mark.parametrize(
    ("channels", "problem"),
    [
        ("{warning: [phone], page: [phone]}", "rules[0].channels.page: unknown key"),
        ("{critical: [pager]}", "rules[0].channels.critical[0]: channel 'pager' is not defined"),
        ("{}", "rules[0].channels: name the channels of warning, critical or both"),
    ],
)
def test_bad_mappings_are_errors_with_their_line(tmp_path, channels, problem) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "channels: {phone: ['console://']}\n"
        f"rules:\n  - {{name: a, metric: liq_gap_pct, op: '<', warning: 8, channels: {channels}}}\n"
    )
    with pytest.raises(ConfigError) as err:
        config.load(str(path))
    assert any(problem in p and p.startswith(f"{path}:3:") for p in err.value.problems), (
        err.value.problems
    )


RULES = """\
exchange: {{base_url: {url}, fallback_url: {url}}}
state_dir: {state}
channels: {{phone: ["{phone}"], pager: ["{pager}"]}}
defaults:
  channels: {{warning: [phone], critical: [phone, pager]}}
rules:
  - {{name: near, metric: liq_gap_pct, op: "<", warning: 8, critical: 4}}
"""


def test_a_critical_only_channel_gets_no_warnings(tmp_path, monkeypatch) -> None:
    for name, value in FakeBitget.credentials_env().items():
        monkeypatch.setenv(name, value)
    with FakeBitget() as fx, Receiver() as phone, Receiver() as pager:
        fx.add_position("BTCUSDT", "long", mark="97000", liquidation="90000")  # 7.2 %: warning
        fx.add_position("ETHUSDT", "long", mark="2500", liquidation="2450")  # 2 %: critical
        rules = tmp_path / "rules.yaml"
        text = RULES.format(url=fx.url, state=tmp_path / "s", phone=phone.url, pager=pager.url)
        rules.write_text(text)
        assert main(["run", "-c", str(rules), "--once"]) == 0
        assert phone.wait_for(1, timeout=10) and pager.wait_for(1, timeout=10)
        (to_phone,) = phone.received
        (to_pager,) = pager.received
    assert "WARNING near BTCUSDT" in to_phone.body and "CRITICAL near ETHUSDT" in to_phone.body
    assert to_pager.body.startswith("CRITICAL near ETHUSDT long") and "BTCUSDT" not in to_pager.body
    assert to_pager.payload["type"] == to_phone.payload["type"] == "failure"
