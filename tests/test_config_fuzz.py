"""Random mutations of rules.example.yaml never raise anything but ConfigError."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskwatch.config import load as config
from riskwatch.config.lint import lint
from riskwatch.errors import ConfigError

EXAMPLE = (Path(__file__).parent.parent / "rules.example.yaml").read_text().splitlines()
ENV = {
    "TELEGRAM_BOT_TOKEN": "123456789:ABCdefGhIJKlmnoPQRsT_uvwxYZ12345678",
    "TELEGRAM_CHAT_ID": "987654",
    "SLACK_TOKEN_A": "T1JJ3T3L2",
    "SLACK_TOKEN_B": "A1BRTD4JD",
    "SLACK_TOKEN_C": "TIiajkdnlazkcOXrIdevi7FQ",
}
VALUES = [
    "[]",
    "{}",
    "null",
    "-1",
    "1e400",
    ".nan",
    "yes",
    "'x'",
    "[a, [b]]",
    "{a: b}",
    "0",
    "99999999999999999999999999",
    "*x",
    "&x y",
    "!!binary aGk=",
    "'${UNSET_X}'",
]


@st.composite
def mutated(draw: st.DrawFn) -> str:
    lines = list(EXAMPLE)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        kind = draw(st.sampled_from(["delete", "swap", "value", "unicode", "dup"]))
        if kind == "delete":
            del lines[i]
        elif kind == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif kind == "value" and ":" in lines[i]:
            key = lines[i].split(":", 1)[0]
            lines[i] = f"{key}: {draw(st.sampled_from(VALUES))}"
        elif kind == "unicode":
            pos = draw(st.integers(0, len(lines[i])))
            junk = draw(st.text(min_size=1, max_size=5))
            lines[i] = lines[i][:pos] + junk + lines[i][pos:]
        else:
            lines.insert(i, lines[i])
        if not lines:
            lines = [""]
    return "\n".join(lines) + "\n"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutations_raise_only_config_error(text: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "rules.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            cfg = config.load(str(path), environ=ENV)
        except ConfigError as exc:
            assert exc.problems
            for p in exc.problems:
                assert "internal error" not in p, p
                assert "\n" not in p
                assert not any(v in p for v in ENV.values())
        else:
            lint(cfg)
