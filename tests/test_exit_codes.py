"""One exit-code table: the code's (``cli.main.EXIT_CODES``), copied into README and --help."""

from __future__ import annotations

from pathlib import Path

import pytest

from riskwatch.cli.main import EXIT_CODES, main

README = Path(__file__).parent.parent / "README.md"


def test_the_readme_table_is_the_code_table() -> None:
    lines = README.read_text().splitlines()
    start = lines.index("| code | meaning |") + 2
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        code, text = (cell.strip() for cell in line.strip("|").split("|"))
        rows.append((int(code), text))
    assert rows == list(EXIT_CODES)


def test_help_shows_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for code, text in EXIT_CODES:
        assert f"{code:<4} {text}" in out


@pytest.mark.parametrize("value", ["0", "-5", "nan", "inf", "soon"])
def test_demo_duration_must_be_above_zero(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--duration", value]) == 2
    assert "--duration" in capsys.readouterr().err
