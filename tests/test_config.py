"""config.load: parsing into the model, inheritance, interpolation, durations, lint."""

from __future__ import annotations

from pathlib import Path

import pytest

from riskwatch import durations
from riskwatch.config import load as config
from riskwatch.config.lint import lint
from riskwatch.errors import ConfigError
from riskwatch.logs import redact
from riskwatch.model import Match

HEAD = "channels: {c: ['console://'], d: ['console://stderr']}\ndefaults: {channels: [c]}\n"


def write(tmp_path: Path, text: str) -> str:
    f = tmp_path / "rules.yaml"
    f.write_text(text)
    return str(f)


def problems(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        config.load(write(tmp_path, text), environ=environ or {})
    return list(info.value.problems)


def located(path: str, probs: list[str]) -> list[tuple[int, str]]:
    out = []
    for p in probs:
        assert p.startswith(path + ":"), p
        line = int(p[len(path) + 1 :].split(":")[0])
        out.append((line, p))
    return out


def test_full_file_parses_into_the_model(tmp_path: Path) -> None:
    cfg = config.load(
        write(
            tmp_path,
            """\
exchange:
  api: v3
  product_types: [umcbl, COIN-FUTURES]
  margin_coin: usdt
  poll_interval: 5s
  stale_after: 1m30s
  timeout: 3s
  fallback_url: null
send_ttl: 1h
heartbeat: 24h
metrics: {listen: "127.0.0.1:9464"}
channels: {c: ['console://']}
defaults: {channels: [c], repeat: 1h, for: 10s, hysteresis: 0.5, worsen_by: 3}
rules:
  - name: near_liq-1
    metric: liq_gap_pct
    op: "<"
    warning: 15
    critical: 5
    repeat: 0
    match: {symbol: [BTC*, "Eth*"], side: LONG, product_type: umcbl}
  - {name: acct, scope: account, metric: crossedRiskRate, op: ">=", critical: 0.8,
     worsen_by: null, send_resolved: false}
""",
        ),
        environ={"HOME": "/home/x"},
    )
    ex = cfg.exchange
    assert ex.api == "v3" and ex.product_types == ("USDT-FUTURES", "COIN-FUTURES")
    assert (ex.margin_coin, ex.poll_interval, ex.stale_after, ex.timeout) == ("USDT", 5, 90, 3)
    assert ex.fallback_url is None
    assert (cfg.send_ttl, cfg.heartbeat, cfg.metrics_listen) == (3600, 86400, "127.0.0.1:9464")
    assert cfg.state_dir == "/home/x/.local/state/riskwatch"
    a, b = cfg.rules
    assert (a.repeat, a.for_, a.hysteresis, a.worsen_by, a.channels) == (0, 10, 0.5, 3, ("c",))
    assert a.match == Match(symbol=("btc*", "eth*"), side=("long",), product_type=("usdt-futures",))
    assert (b.scope, b.warning, b.critical, b.worsen_by, b.send_resolved) == (
        "account",
        None,
        0.8,
        None,
        False,
    )
    assert b.repeat == 3600


@pytest.mark.parametrize(
    ("body", "line", "fragment"),
    [
        (
            "rules:\n  - {name: a, metric: liq_gap_pct, op: '<', warning: 1}\nrulez: []\n",
            5,
            "did you mean 'rules'?",
        ),
        (
            "exchange:\n  poll_interval: 500ms\n",
            4,
            "exchange.poll_interval: '500ms' is not a duration",
        ),
        ("exchange:\n  poll_interval: 0.5s\n", 4, "must be at least 1s"),
        ("exchange:\n  api: v4\n", 4, "exchange.api: 'v4' is not one of auto, v2, v3, v1"),
        ("exchange:\n  product_types: [SPOT]\n", 4, "'SPOT' is not one of USDT-FUTURES"),
        (
            "rules:\n  - name: a\n    metric: crossedRiskRate\n    op: '>'\n    warning: 1\n",
            5,
            "'crossedRiskRate' is an account metric, not a position one; add scope: account",
        ),
        (
            "rules:\n  - name: a\n    metric: liq_gap_pct\n    op: '<'\n    warning: 1\n"
            "    hysteresis: -1\n",
            8,
            "rules[0].hysteresis: must be 0 or more",
        ),
        (
            "rules:\n  - name: a\n    metric: liq_gap_pct\n    op: '<'\n    warning: 1\n"
            "    worsen_by: 0\n",
            8,
            "rules[0].worsen_by: must be more than 0",
        ),
        (
            "rules:\n  - name: a\n    metric: liq_gap_pct\n    op: '>'\n    warning: 5\n"
            "    critical: 1\n",
            8,
            "with op '>' critical must be above warning",
        ),
        (
            "rules:\n  - name: a\n    metric: liq_gap_pct\n    op: '<'\n    warning: 1\n"
            "    match: {side: up}\n",
            8,
            "'up' is not a side",
        ),
        (
            "rules:\n  - name: a\n    metric: liq_gap_pct\n    op: '<'\n    warning: 1\n"
            "    op: '>'\n",
            8,
            "duplicate key 'op' (first at line 6)",
        ),
        (
            "rules:\n  - name: a\n    metric: liq_gap_pct\n    op: '<'\n    warning: 1\n"
            "    message: '{symbol[0]}'\n",
            8,
            "no indexing",
        ),
        (
            "rules:\n  - name: a\n    metric: liq_gap_pct\n    op: '<'\n    warning: 1\n"
            "    message: '{unknown}'\n",
            8,
            "unknown field",
        ),
        (
            "rules:\n  - name: a\n    metric: liq_gap_pct\n    op: '<'\n    warning: .inf\n",
            7,
            "finite",
        ),
        (
            "rules:\n  - name: a\n    metric: liq_gap_pct\n    op: '<'\n    warning: true\n",
            7,
            "expected a number, got the boolean true",
        ),
        (
            "rules:\n  - name: a\n    metric: liq_gap_pct\n    op: '<'\n",
            4,
            "rules[0]: set at least one of warning and critical",
        ),
        (
            "rules:\n  - name: a\n    metric: liq_gap_pct\n    warning: 1\n",
            4,
            "missing required key 'op'",
        ),
        (
            "rules:\n  - name: a\n    metric: liq_gap_pct\n    op: '<'\n    warning: 1\n"
            "    channels: [zz]\n",
            8,
            "channel 'zz' is not defined in channels (c, d)",
        ),
        ("channels2: {}\n", 3, "unknown key 'channels2'; did you mean 'channels'?"),
        ("metrics: {listen: nohost}\n", 3, "expected host:port"),
        ("heartbeat_url: ftp://x\n", 3, "heartbeat_url: this URL is not an http(s) URL"),
        ("rules: {a: 1}\n", 3, "rules: expected a list, got a mapping"),
        ("rules:\n  - <<: {name: a}\n", 4, "merge keys (<<) are not supported"),
        (
            "rules:\n  - name: a\n    metric: liq_gap_pct\n    op: '<'\n    warning: 1\n"
            "    scope: account\n",
            5,
            "is a position metric, not an account one",
        ),
    ],
)
def test_each_error_names_its_line(tmp_path: Path, body: str, line: int, fragment: str) -> None:
    path = str(tmp_path / "rules.yaml")
    found = located(path, problems(tmp_path, HEAD + body))
    assert any(ln == line and fragment in p for ln, p in found), found


def test_account_rule_with_side_match(tmp_path: Path) -> None:
    probs = problems(
        tmp_path,
        HEAD + "rules:\n  - {name: a, scope: account, metric: available, op: '<', warning: 1,"
        " match: {side: long}}\n",
    )
    assert any(":4:" in p and "match.side: an account rule has no side" in p for p in probs)


def test_channel_needed_when_defaults_have_none(tmp_path: Path) -> None:
    probs = problems(
        tmp_path,
        "channels: {c: ['console://']}\nrules:\n  - {name: a, metric: total, op: '>', "
        "warning: 1}\n",
    )
    assert any(":3:5: rules[0]: no channel" in p for p in probs)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "- a\n- b\n",
        "just a string\n",
        "42\n",
        "rules: [1, 2]\n",
        "{a: [b, {c: d}]}",
        "a: !!binary aGVsbG8=\n",
        "a: 2024-01-01\nrules:\n - name: 2024-01-01\n",
        "x: " + "[" * 200 + "]" * 200 + "\n",
        "rules:\n  - name: a\n    warning: 1" + "0" * 5000 + "\n",
        "a: &a [1,2]\nb: &b [*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b]\n"
        "d: [*c,*c,*c,*c,*c,*c,*c]\n",
        "? [complex, key]\n: value\n",
        "\t\tfoo: bar",
        "channels: {c: [1.5]}\n",
    ],
)
def test_hostile_inputs_give_config_errors_only(tmp_path: Path, text: str) -> None:
    probs = problems(tmp_path, text)
    assert probs and all("internal error" not in p for p in probs)


# ---------------------------------------------------------------- interpolation


TG = "channels:\n  c: ['json://127.0.0.1/${RW_TOKEN}']\ndefaults: {channels: [c]}\n"


def test_env_interpolation(tmp_path: Path) -> None:
    cfg = config.load(write(tmp_path, TG), environ={"RW_TOKEN": "abc123"})
    assert cfg.channels[0].urls == ("json://127.0.0.1/abc123",)


def test_credentials_directory_file(tmp_path: Path) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "rw_token").write_text("fromfile99\n")
    cfg = config.load(write(tmp_path, TG), environ={"CREDENTIALS_DIRECTORY": str(creds)})
    assert cfg.channels[0].urls == ("json://127.0.0.1/fromfile99",)


def test_environment_wins_over_credentials_file(tmp_path: Path) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "rw_token").write_text("fromfile")
    env = {"CREDENTIALS_DIRECTORY": str(creds), "RW_TOKEN": "fromenv"}
    assert config.load(write(tmp_path, TG), environ=env).channels[0].urls[0].endswith("fromenv")


def test_unset_variable_is_an_error_naming_it(tmp_path: Path) -> None:
    probs = problems(tmp_path, TG)
    assert len(probs) == 1 and ":2:7: channels.c[0]: ${RW_TOKEN} is not set" in probs[0]


def test_strict_env_false_leaves_unset_empty(tmp_path: Path) -> None:
    cfg = config.load(write(tmp_path, TG), environ={}, strict_env=False)
    assert cfg.channels[0].urls == ("json://127.0.0.1/",)


def test_secret_never_echoed_and_registered_for_redaction(tmp_path: Path) -> None:
    secret = "sup3r-s3cret-tok3n"
    text = "channels:\n  c: ['${RW_TOKEN}']\ndefaults: {channels: [c]}\n"
    probs = problems(tmp_path, text, {"RW_TOKEN": secret})
    assert "has no scheme" in probs[0] and secret not in "".join(probs)
    assert redact(f"x {secret} y") == "x *** y"


def test_message_is_never_interpolated(tmp_path: Path) -> None:
    body = (
        HEAD
        + "rules:\n  - {name: a, metric: total, op: '>', warning: 1, message: '${symbol} {side}'}\n"
    )
    cfg = config.load(write(tmp_path, body), environ={"symbol": "boom"})
    assert cfg.rules[0].message == "${symbol} {side}"


def test_malformed_variable_reference(tmp_path: Path) -> None:
    probs = problems(
        tmp_path, "channels:\n  c: ['json://h/${bad-name}']\ndefaults: {channels: [c]}\n"
    )
    assert any("malformed ${...}" in p for p in probs)


def test_state_dir_interpolated_and_relative_to_file(tmp_path: Path) -> None:
    cfg = config.load(write(tmp_path, HEAD + "state_dir: ${SD}/x\n"), environ={"SD": "data"})
    assert cfg.state_dir == str(tmp_path / "data" / "x")


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"STATE_DIRECTORY": "/var/lib/rw:/other", "HOME": "/h"}, "/var/lib/rw"),
        ({"XDG_STATE_HOME": "/xdg", "HOME": "/h"}, "/xdg/riskwatch"),
        ({"HOME": "/h"}, "/h/.local/state/riskwatch"),
    ],
)
def test_default_state_dir(environ: dict[str, str], expected: str) -> None:
    assert config.default_state_dir(environ) == expected


# ---------------------------------------------------------------- durations


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("5m", 300),
        ("1h30m", 5400),
        ("2d", 172800),
        ("1.5s", 1.5),
        ("0", 0),
        (0, 0),
        ("1h0m5s", 3605),
    ],
)
def test_durations_ok(text: object, seconds: float) -> None:
    assert durations.parse(text) == seconds


@pytest.mark.parametrize(
    "text", ["", "5", 5, "5 m", "5ms", "1m1h", "h", "1.5m", "-5s", True, None, [1], "999d"]
)
def test_durations_rejected(text: object) -> None:
    with pytest.raises(ValueError):
        durations.parse(text)


@pytest.mark.parametrize(
    ("seconds", "text"), [(5400, "1h30m"), (10, "10s"), (0, "0s"), (90061, "1d1h1m1s")]
)
def test_durations_to_text(seconds: float, text: str) -> None:
    assert durations.to_text(seconds) == text


# ---------------------------------------------------------------- lint


def _lint(tmp_path: Path, api: str, metric: str, scope: str = "position") -> list[str]:
    body = (
        f"exchange: {{api: {api}}}\n"
        + HEAD
        + f"rules:\n  - {{name: a, scope: {scope}, metric: {metric}, op: '>', warning: 1}}\n"
    )
    return lint(config.load(write(tmp_path, body), environ={}))


def test_lint_metric_unavailable_in_api(tmp_path: Path) -> None:
    assert any(
        "marginRatio is not reported by exchange.api v3" in w
        for w in _lint(tmp_path, "v3", "marginRatio")
    )
    assert any("mgnRatio" in w for w in _lint(tmp_path, "v2", "mgnRatio", "account"))
    assert _lint(tmp_path, "v2", "marginRatio") == []


def test_lint_auto_warns_only_when_neither_v2_nor_v3(tmp_path: Path) -> None:
    assert _lint(tmp_path, "auto", "marginRatio") == []
    assert _lint(tmp_path, "auto", "mgnRatio", "account") == []


def test_lint_empty_defaults_channels(tmp_path: Path) -> None:
    body = (
        "channels: {c: ['console://']}\n"
        "rules:\n  - {name: a, metric: total, op: '>', warning: 1, channels: [c]}\n"
    )
    assert any(
        "defaults.channels is empty" in w
        for w in lint(config.load(write(tmp_path, body), environ={}))
    )


def test_unquoted_op_gets_a_quoting_hint(tmp_path: Path) -> None:
    probs = problems(tmp_path, HEAD + "rules:\n  - name: a\n    metric: total\n    op: >=\n")
    assert len(probs) == 1 and ":6:" in probs[0] and 'quote it, e.g. op: ">="' in probs[0]


def test_a_channel_url_may_carry_its_own_send_timeout(tmp_path: Path) -> None:
    rule = "rules: [{name: r, metric: liq_gap_pct, op: '<', warning: 5}]\n"
    ok = "channels: {c: ['json://127.0.0.1:9/?send_timeout=45s']}\ndefaults: {channels: [c]}\n"
    cfg = config.load(write(tmp_path, ok + rule), environ={})
    assert durations.split_send_timeout(cfg.channels[0].urls[0]) == ("json://127.0.0.1:9/", 45.0)
    bad = ok.replace("45s", "soon")
    (problem,) = problems(tmp_path, bad + rule)
    assert ":1:16: channels.c[0]: this URL has a bad send_timeout option: 'soon'" in problem


# ---------------------------------------------------------------- single, friendly errors


def test_a_bare_greater_than_op_is_one_error_saying_quote_it(tmp_path: Path) -> None:
    probs = problems(
        tmp_path, HEAD + "rules:\n  - name: a\n    metric: total\n    op: >\n    warning: 5\n"
    )
    assert len(probs) == 1 and ":6:9: rules[0].op: is empty: a bare >" in probs[0]
    assert 'quote the op: op: ">"' in probs[0]


def test_a_merge_key_is_one_error_with_what_to_write_instead(tmp_path: Path) -> None:
    body = "rules:\n  - &r {name: a, metric: total, op: '<', warning: 5}\n  - <<: *r\n    name: b\n"
    probs = problems(tmp_path, HEAD + body)
    assert len(probs) == 1, probs
    assert ":5:5: merge keys (<<) are not supported" in probs[0] and "defaults:" in probs[0]
    assert "constructor" not in probs[0]


def test_a_typo_in_defaults_channels_does_not_cascade(tmp_path: Path) -> None:
    body = "channels: {c: ['console://']}\ndefaults: {chanels: [c]}\nrules:\n" + "".join(
        f"  - {{name: r{i}, metric: total, op: '<', warning: 5}}\n" for i in range(3)
    )
    probs = problems(tmp_path, body)
    assert len(probs) == 1 and "did you mean 'channels'?" in probs[0], probs


def test_a_typo_in_the_channels_section_does_not_cascade(tmp_path: Path) -> None:
    body = (
        "chanels: {c: ['console://']}\ndefaults: {channels: [c]}\nrules:\n"
        "  - {name: a, metric: total, op: '<', warning: 5, channels: [c]}\n"
    )
    probs = problems(tmp_path, body)
    assert len(probs) == 1 and "did you mean 'channels'?" in probs[0], probs
