"""``riskwatch check`` and ``riskwatch schema`` through the real CLI."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from riskwatch.cli.main import main

BROKEN = Path(__file__).parent / "broken"
EXAMPLE = Path(__file__).parent.parent / "rules.example.yaml"
# Dummy values that apprise accepts as Telegram / Slack tokens.
EXAMPLE_ENV = {
    "TELEGRAM_BOT_TOKEN": "123456789:ABCdefGhIJKlmnoPQRsT_uvwxYZ12345678",
    "TELEGRAM_CHAT_ID": "987654",
    "SLACK_TOKEN_A": "T1JJ3T3L2",
    "SLACK_TOKEN_B": "A1BRTD4JD",
    "SLACK_TOKEN_C": "TIiajkdnlazkcOXrIdevi7FQ",
}

# file -> (line, col, fragment of the one error it must produce first)
CASES = {
    "unknown_key.yaml": (5, 5, "rules[0].treshold: unknown key 'treshold'"),
    "bad_op.yaml": (6, 9, "rules[0].op: '=<' is not one of <, <=, >, >="),
    "bad_duration.yaml": (8, 10, "rules[0].for: '5 minutes' is not a duration"),
    "unknown_metric.yaml": (5, 13, "did you mean 'liq_gap_pct'?"),
    "undefined_channel.yaml": (8, 16, "channel 'pager' is not defined"),
    "duplicate_name.yaml": (8, 11, "duplicate rule name 'a' (first at line 4)"),
    "unset_env.yaml": (2, 7, "${RW_TEST_UNSET_TOKEN} is not set"),
    "bad_template.yaml": (8, 14, "{symbol.__class__}"),
    "yaml_syntax.yaml": (6, 7, "YAML syntax error"),
    "wrong_type.yaml": (7, 14, "rules[0].warning: expected a number, got 'five'"),
    "account_symbol.yaml": (9, 13, "an account rule has no symbol"),
    "critical_less_dangerous.yaml": (8, 15, "critical must be below warning"),
    "unknown_scheme.yaml": (1, 16, "channels.c[0]: this URL is not usable by apprise"),
    "binary.yaml": (1, 1, "not UTF-8 text"),
    "top_list.yaml": (1, 1, "expected a mapping"),
    "reserved_name.yaml": (4, 11, "the prefix 'riskwatch-' is for built-in alerts"),
}


def test_every_broken_file_has_a_case() -> None:
    assert sorted(p.name for p in BROKEN.glob("*.yaml")) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_broken_file_gives_located_error(
    name: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RW_TEST_UNSET_TOKEN", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    path = str(BROKEN / name)
    assert main(["check", "-c", path]) == 1
    out, err = capsys.readouterr()
    line, col, fragment = CASES[name]
    lines = err.strip().splitlines()
    assert lines, "no error printed"
    for each in lines:
        assert re.match(rf"^{re.escape(path)}:\d+:\d+: ", each), each
    hit = [e for e in lines if e.startswith(f"{path}:{line}:{col}: ") and fragment in e]
    assert hit, lines
    assert "Traceback" not in err and out == ""


def test_check_reports_all_problems_not_just_the_first(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "-c", str(BROKEN / "unknown_key.yaml")]) == 1
    err = capsys.readouterr().err
    assert "treshold" in err and "set at least one of warning and critical" in err
    assert "no channel" in err


def test_example_passes_check_and_hides_urls(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for k, v in EXAMPLE_ENV.items():
        monkeypatch.setenv(k, v) if k.startswith("TELEGRAM") else monkeypatch.delenv(k, False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    assert main(["check", "--strict", "-c", str(EXAMPLE)]) == 0  # and no lint warning
    out, err = capsys.readouterr()
    assert "valid: 5 rules, 1 channel\n" in out  # a Telegram-only user: two variables
    assert "rule near-liquidation: position liq_gap_pct < warning 15, critical 5" in out
    assert "rule account-risk: account crossedRiskRate >= warning 0.5, critical 0.8" in out
    assert "channel phone: 1 URL" in out and "team" not in out
    for secret in EXAMPLE_ENV.values():
        assert secret not in out + err
    assert "tgram://" not in out and "slack://" not in out


def test_example_without_variables_names_them(capsys: pytest.CaptureFixture[str]) -> None:
    env = {k: v for k, v in os.environ.items() if k not in EXAMPLE_ENV}
    env.pop("CREDENTIALS_DIRECTORY", None)
    proc = subprocess.run(
        [sys.executable, "-m", "riskwatch", "check", "-c", str(EXAMPLE)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 1
    assert "${TELEGRAM_BOT_TOKEN} is not set" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert re.search(r"rules\.example\.yaml:\d+:\d+: channels\.phone\[0\]", proc.stderr)


def test_subprocess_broken_file_exit_1_no_traceback() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "riskwatch", "check", "-c", str(BROKEN / "bad_op.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().endswith("rules[0].op: '=<' is not one of <, <=, >, >=")
    assert ":6:9:" in proc.stderr and "Traceback" not in proc.stderr


def test_missing_file_is_exit_1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["check", "-c", str(tmp_path / "nope.yaml")]) == 1
    assert "cannot read the rules file" in capsys.readouterr().err


def test_usage_error_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--bogus"]) == 2


def test_unknown_scheme_error_never_shows_the_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RW_TOKEN", "s3cr3t-t0ken-value")
    f = tmp_path / "r.yaml"
    f.write_text('channels: {c: ["bogus://${RW_TOKEN}/x"]}\ndefaults: {channels: [c]}\n')
    assert main(["check", "-c", str(f)]) == 1
    out, err = capsys.readouterr()
    assert "channels.c[0]" in err and "s3cr3t-t0ken-value" not in out + err


def test_lint_warning_is_printed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "r.yaml"
    f.write_text(
        "exchange: {api: v3}\nchannels: {c: ['console://']}\ndefaults: {channels: [c]}\n"
        "rules:\n  - {name: a, metric: marginRatio, op: '>', warning: 0.5}\n"
    )
    assert main(["check", "-c", str(f)]) == 0
    out = capsys.readouterr().out
    assert "warning: rules[0] (a): metric marginRatio is not reported by exchange.api v3" in out


def test_schema_prints_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "rules" in schema["properties"]
    rule = schema["$defs"]["rule"]
    assert "liq_gap_pct" in rule["else"]["properties"]["metric"]["enum"]
    assert "crossedRiskRate" in rule["then"]["properties"]["metric"]["enum"]
    assert rule["properties"]["op"]["enum"] == ["<", "<=", ">", ">="]


def _file(tmp_path: Path, text: str) -> str:
    f = tmp_path / "r.yaml"
    f.write_text("channels: {c: ['console://']}\ndefaults: {channels: [c]}\n" + text)
    return str(f)


LINTED = "rules:\n  - {name: a, metric: liq_gap_pct, op: '>', warning: 5}\n"


def test_lint_warnings_exit_0_and_strict_makes_them_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _file(tmp_path, LINTED)
    assert main(["check", "-c", path]) == 0
    assert "fires while the value is large" in capsys.readouterr().out
    assert main(["check", "--strict", "-c", path]) == 1
    assert "1 lint warning: --strict makes them errors" in capsys.readouterr().out


def test_missing_credentials_are_a_warning_in_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("BITGET_API_KEY", "BITGET_API_SECRET", "BITGET_API_PASSPHRASE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    path = _file(tmp_path, "rules:\n  - {name: a, metric: liq_gap_pct, op: '<', warning: 5}\n")
    assert main(["check", "--strict", "-c", path]) == 0  # a warning, not a lint error
    out = capsys.readouterr().out
    assert "warning: missing Bitget credentials: set BITGET_API_KEY" in out
    assert "run and positions will refuse to start without them" in out


def test_a_configured_feature_without_its_package_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "prometheus_client" else real(n)
    )
    assert main(["check", "-c", _file(tmp_path, "metrics: {listen: '127.0.0.1:9464'}\n")]) == 1
    err = capsys.readouterr().err
    assert "metrics.listen is set but prometheus_client is not installed" in err
    assert "pip install 'riskwatch[metrics]'" in err


@pytest.mark.parametrize(
    ("listen", "rc", "fragment"),
    [
        ("[::1]:9464", 0, ""),
        ("127.0.0.1:9464", 0, ""),
        ("::1:9464", 1, "put an IPv6 address in brackets: [::1]:9464"),
        ("[nope]:9464", 1, "[nope] is not an IPv6 address"),
        ("127.0.0.1:99999", 1, "expected host:port"),
    ],
)
def test_metrics_listen_is_checked_as_run_binds_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], listen: str, rc: int, fragment: str
) -> None:
    assert main(["check", "-c", _file(tmp_path, f"metrics: {{listen: '{listen}'}}\n")]) == rc
    assert fragment in capsys.readouterr().err
