"""The answering-back keys of the rules file: timezone, quiet_hours, escalate, telegram."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from riskwatch.cli.check import summary
from riskwatch.config import load as config
from riskwatch.config.lint import lint
from riskwatch.config.schema import json_schema
from riskwatch.errors import ConfigError
from riskwatch.model import Escalate, QuietWindow

HEAD = """\
channels: {phone: ["json://127.0.0.1:9/"], pager: ["json://127.0.0.1:9/p"]}
defaults: {channels: [phone]}
"""
RULE = """\
rules:
  - name: near
    metric: liq_gap_pct
    op: "<"
    warning: 10
"""


def load(tmp_path: Path, text: str, env: dict[str, str] | None = None):
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    return config.load(str(path), environ=env or {})


def errors(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        load(tmp_path, text)
    return [p.split(": ", 1)[1] for p in exc.value.problems]


def test_all_the_keys_load_and_check_summarises_them(tmp_path):
    cfg = load(
        tmp_path,
        'timezone: Europe/Berlin\nquiet_hours: [{from: "23:00", to: 07:00}]\n'
        'telegram: {token: "${T}", chats: [42]}\n'
        + HEAD.replace("defaults: {channels: [phone]}",
                       "defaults: {channels: [phone], escalate: {after: 10m, channels: [pager]}}")
        + RULE + '    quiet_hours: [{from: "00:00", to: "24:00", days: [sat, sun]}]\n',
        {"T": "123:secret-TOKEN"},
    )  # fmt: skip
    assert cfg.timezone == "Europe/Berlin"
    assert cfg.quiet_hours == (QuietWindow(start=1380, end=420),)
    rule = cfg.rules[0]
    assert rule.quiet_hours == (QuietWindow(start=0, end=1440, days=(5, 6)),)
    assert rule.escalate == Escalate(after=600.0, channels=("pager",))
    assert cfg.telegram is not None and cfg.telegram.chats == ("42",)
    assert "secret" not in repr(cfg.telegram)
    lines = summary(cfg)
    assert "quiet hours (Europe/Berlin): 23:00-07:00 every day" in lines
    assert "rule near: quiet hours 00:00-24:00 sat,sun, escalate after 10m -> pager" in lines
    assert "telegram bot: obeys 1 chat" in lines
    assert any("no channel has a tgram:// URL" in w for w in lint(cfg))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("timezone: Mars/Olympus\n", "timezone: 'Mars/Olympus' is not an IANA time zone"),
        ('quiet_hours: [{from: "25:00", to: "07:00"}]\n', "quiet_hours[0].from: '25:00' is not"),
        ('quiet_hours: [{from: "07:00", to: "07:00"}]\n', "quiet_hours[0]: from and to are"),
        ('quiet_hours: [{from: "1:00", to: "2:00", days: [funday]}]\n', "'funday' is not a day"),
        ('quiet_hours: [{from: "1:00"}]\n', "quiet_hours[0]: missing required key 'to'"),
        ('quiet_hours: [{from: "1:00", to: "2:00", days: []}]\n', "days: name at least one day"),
        ("telegram: {token: abc, chats: [1]}\n", "telegram.token: is not a bot token"),
        ('telegram: {token: "1:a", chats: ["@me"]}\n', "telegram.chats[0]: '@me' is not a chat"),
    ],
)
def test_mistakes_are_located_one_line_errors(tmp_path, text, problem):
    found = errors(tmp_path, text + HEAD + RULE)
    assert any(problem in p for p in found), found


def test_escalate_needs_defined_channels_and_null_turns_it_off(tmp_path):
    bad = HEAD + RULE + "    escalate: {after: 5m, channels: [nowhere]}\n"
    assert any("channel 'nowhere' is not defined" in p for p in errors(tmp_path, bad))
    text = HEAD.replace("[phone]}", "[phone], escalate: {after: 1m, channels: [pager]}}") + RULE
    cfg = load(tmp_path, text + "    escalate: null\n")
    assert cfg.rules[0].escalate is None


def test_the_schema_knows_the_new_keys():
    schema = json_schema()
    assert {"timezone", "quiet_hours", "telegram"} <= set(schema["properties"])
    rule = schema["$defs"]["rule"]["properties"]
    assert {"quiet_hours", "escalate"} <= set(rule)
    assert json.dumps(schema)  # serialisable


def test_a_plain_http_api_url_off_this_host_is_linted(tmp_path):
    tg = 'telegram: {token: "1:a", chats: [1], api_url: "%s"}\n'
    remote = load(tmp_path, tg % "http://bots.example.org" + HEAD + RULE)
    assert "telegram.api_url: plain http to bots.example.org: the bot token travels" in " ".join(
        lint(remote)
    )
    local = load(tmp_path, tg % "http://127.0.0.1:8081" + HEAD + RULE)
    assert not any("api_url" in w for w in lint(local))
