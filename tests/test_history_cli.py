"""``riskwatch history``: what was sent when, and whether it arrived, as text and JSON."""

from __future__ import annotations

import json
import re

from riskwatch.cli.main import main
from riskwatch.delivery.fake import Receiver
from riskwatch.exchange.fake.server import FakeBitget

RULES = """\
exchange: {{base_url: {url}, fallback_url: {url}}}
state_dir: {state}
timezone: Europe/Berlin
channels: {{phone: ["{phone}?token=s3cretTOKEN"]}}
defaults: {{channels: [phone]}}
rules:
  - {{name: near, metric: liq_gap_pct, op: "<", warning: 8, critical: 4}}
  - {{name: drawdown, metric: unrealizedPLR, op: "<=", warning: -0.3}}
"""


def test_history_answers_what_was_sent_and_whether_it_arrived(tmp_path, monkeypatch, capsys):
    for name, value in FakeBitget.credentials_env().items():
        monkeypatch.setenv(name, value)
    with FakeBitget() as fx, Receiver() as phone:
        fx.add_position("BTCUSDT", "long", mark="93500", liquidation="90000", open_price="100000")
        fx.add_position("ETHUSDT", "short", mark="2500", liquidation="2650")
        rules = tmp_path / "rules.yaml"
        rules.write_text(RULES.format(url=fx.url, state=tmp_path / "s", phone=phone.url))
        assert main(["run", "-c", str(rules), "--once"]) == 0
        assert phone.wait_for(1, timeout=10)
    capsys.readouterr()

    assert main(["history", "-c", str(rules)]) == 0
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    assert any("CRITICAL near BTCUSDT long: 3.74% from liquidation" in x for x in lines)
    said = [x for x in lines if "WARNING drawdown BTCUSDT long: PnL -65% of margin" in x]
    assert re.search(r" CES?T  WARNING", said[0])  # in the configured zone
    (delivered,) = [x for x in lines if "delivered to phone" in x]
    assert "after 1 attempt" in delivered and "riskwatch: 1 critical, 2 warnings" in delivered
    assert lines[-1] == "3 lines, 1 delivery outcome"
    assert "s3cretTOKEN" not in out and phone.url not in out

    assert main(["history", "-c", str(rules), "--rule", "NEAR", "--symbol", "eth*", "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [(r["kind"], r["rule"], r["subject"]) for r in records] == [
        ("line", "near", "ETHUSDT"),
        ("delivered", "", ""),
    ]
    assert records[0]["severity"] == "warning" and records[1]["attempts"] == 1
    assert records[0]["time"].endswith("+01:00")

    assert main(["history", "-c", str(rules), "--since", "0"]) == 0
    assert "nothing in the last 0" in capsys.readouterr().out
    assert main(["history", "-c", str(rules), "--since", "soon"]) == 1


def test_history_leaves_a_corrupt_row_to_the_daemon(tmp_path, capsys):
    """A read command (like status) must not move rows while the daemon runs on them."""
    import sqlite3

    from riskwatch.store.db import FILENAME, Store

    state = tmp_path / "state"
    Store.open(str(state)).close()
    conn = sqlite3.connect(state / FILENAME)
    conn.execute("INSERT INTO alerts (key, data) VALUES ('k', 'not json')")
    conn.commit()
    conn.close()
    assert main(["history", "--state-dir", str(state)]) == 0
    conn = sqlite3.connect(state / FILENAME)
    try:
        assert conn.execute("SELECT COUNT(*) FROM alerts").fetchone() == (1,)
        assert conn.execute("SELECT COUNT(*) FROM quarantine").fetchone() == (0,)
    finally:
        conn.close()
