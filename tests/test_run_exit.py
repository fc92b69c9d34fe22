"""``riskwatch run`` ends its process at once only as the program (``cli.main.console``):
``main(["run", ...])`` returns its code, so a test or an embedding caller keeps its process."""

from __future__ import annotations

import os

import pytest

from riskwatch.cli import main as cli
from riskwatch.cli import run as run_cmd
from riskwatch.exchange.fake.server import FakeBitget

RULES = """\
exchange: {{base_url: {url}, fallback_url: {url}}}
state_dir: {state}
channels: {{out: ["console://"]}}
defaults: {{channels: [out]}}
rules:
  - {{name: near, metric: liq_gap_pct, op: "<", warning: 8}}
"""


class _Stopped:
    """The daemon, stopped cleanly at once (its closers run, as ``Daemon.run`` runs them)."""

    def __init__(self, path, watcher, hooks, **kw) -> None:
        self.hooks = hooks

    def run(self) -> int:
        self.hooks.close()
        return 0


def test_main_run_returns_and_only_the_program_ends_the_process(tmp_path, monkeypatch):
    ended: list[int] = []

    def fake_exit(code: int) -> None:
        ended.append(code)
        raise SystemExit(code)

    for name, value in FakeBitget.credentials_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(os, "_exit", fake_exit)
    monkeypatch.setattr(cli.logging, "shutdown", lambda: None)  # the suite's handlers live on
    monkeypatch.setattr(run_cmd, "Daemon", _Stopped)
    with FakeBitget() as fx:
        rules = tmp_path / "rules.yaml"
        rules.write_text(RULES.format(url=fx.url, state=tmp_path / "state"))
        assert cli.main(["run", "-c", str(rules)]) == 0
        assert ended == []
        monkeypatch.setattr(cli.sys, "argv", ["riskwatch", "run", "-c", str(rules)])
        with pytest.raises(SystemExit):
            cli.console()
    assert ended == [0]
