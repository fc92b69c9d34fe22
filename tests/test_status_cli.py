"""``riskwatch status``: tables from the state dir; exit 0 also when nothing is stored yet."""

from __future__ import annotations

import time

from riskwatch.cli.main import main
from riskwatch.delivery.fake import Receiver
from riskwatch.delivery.workers import Deliverer, RetryPolicy, routes
from riskwatch.model import AlertState, Channel, Config, Message
from riskwatch.store.db import Store

KEY = ("near-liquidation", "USDT-FUTURES", "BTCUSDT", "long", "default")


def _rules(tmp_path, state_dir: str, url: str = "tgram://${UNSET_BOT_TOKEN}/1") -> str:
    path = tmp_path / "rules.yaml"
    path.write_text(
        f"state_dir: {state_dir}\n"
        f'channels:\n  phone: ["{url}"]\n'
        "defaults:\n  channels: [phone]\n"
        "rules:\n  - name: near-liquidation\n    metric: liq_gap_pct\n    op: '<'\n"
        "    warning: 15\n"
    )
    return str(path)


def test_nothing_stored_yet(tmp_path, capsys):
    state = tmp_path / "never"
    assert main(["status", "--state-dir", str(state)]) == 0
    out = capsys.readouterr().out
    assert "nothing stored yet" in out and "No firing alerts." in out
    assert not state.exists()  # status never creates the state dir


def test_unset_vars_are_tolerated(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("UNSET_BOT_TOKEN", raising=False)
    state = str(tmp_path / "state")
    assert main(["status", "-c", _rules(tmp_path, state)]) == 0
    assert f"state dir {state}" in capsys.readouterr().out


def test_alert_raised_while_channel_down_is_shown_then_arrives_once(tmp_path, capsys):
    state = str(tmp_path / "state")
    now = time.time()
    with Receiver() as rx:
        cfg = Config(path="r", state_dir=state, channels=(Channel("phone", (rx.url,)),))
        store = Store.open(state)
        firing = AlertState(KEY, "firing", "critical", now - 125, 3.1, now - 5, 3.1, ("phone",))
        msg = Message("phone", "1 critical", "CRITICAL near-liquidation BTCUSDT long", now, (KEY,))
        store.commit_cycle({KEY: firing}, [(k, msg) for k in routes(cfg)["phone"]])
        rx.down()
        policy = RetryPolicy(initial=0.01, max_wait=0.02, jitter=0)
        Deliverer(cfg, store, policy=policy).deliver_all_once()
        store.close()

        assert main(["status", "--state-dir", state]) == 0
        out = capsys.readouterr().out
        assert "Firing alerts (1):" in out
        row = next(line for line in out.splitlines() if line.startswith("near-liquidation"))
        assert row.split()[:4] == ["near-liquidation", "BTCUSDT", "long", "critical"]
        assert row.split()[-3:-1] == ["queued", "5s"]  # its message waits: never "sent"
        assert "Undelivered messages (1):" in out
        row = next(line for line in out.splitlines() if line.startswith("phone"))
        assert row.split()[2] == str(policy.attempts)  # every send attempt, not one per cycle
        assert "Connection error" in row

        rx.up()
        store = Store.open(state)
        d = Deliverer(cfg, store, policy=policy)
        assert d.deliver_all_once().sent == 1
        assert d.deliver_all_once().sent == 0
        store.close()
        assert rx.bodies() == ["CRITICAL near-liquidation BTCUSDT long"]
        assert main(["status", "--state-dir", state]) == 0
        out = capsys.readouterr().out
        assert "No undelivered messages." in out
        row = next(line for line in out.splitlines() if line.startswith("near-liquidation"))
        assert " sent " in row and "queued" not in row


def _stored_alert(state_dir: str) -> None:
    store = Store.open(state_dir)
    now = time.time()
    store.commit_cycle({KEY: AlertState(KEY, "firing", "critical", now - 60, 3.1, now, 3.1)})
    store.close()


def test_missing_rules_file_falls_back_to_the_default_state_dir(tmp_path, capsys, monkeypatch):
    state = str(tmp_path / "default-state")
    monkeypatch.setenv("STATE_DIRECTORY", state)
    _stored_alert(state)
    assert main(["status", "-c", str(tmp_path / "missing.yaml")]) == 0
    captured = capsys.readouterr()
    assert f"state dir {state}" in captured.out and "Firing alerts (1):" in captured.out
    (line,) = captured.err.strip().splitlines()
    assert "missing.yaml" in line and f"default state dir {state}" in line


def test_invalid_rules_file_falls_back_to_the_default_state_dir(tmp_path, capsys, monkeypatch):
    state = str(tmp_path / "default-state")
    monkeypatch.setenv("STATE_DIRECTORY", state)
    _stored_alert(state)
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - name: x\n    metric: no_such_metric\n")
    assert main(["status", "-c", str(rules)]) == 0
    captured = capsys.readouterr()
    assert "Firing alerts (1):" in captured.out
    (line,) = captured.err.strip().splitlines()
    assert "rules file could not be used" in line and str(rules) in line
    assert f"default state dir {state}" in line


def test_an_alert_whose_message_was_dropped_is_never_shown_as_sent(tmp_path):
    """A message older than send_ttl is dropped undelivered: LAST SENT must not say "sent"."""
    state = str(tmp_path / "state")
    now = time.time()
    with Receiver() as rx:
        cfg = Config(
            path="r", state_dir=state, send_ttl=60.0, channels=(Channel("phone", (rx.url,)),)
        )
        store = Store.open(state)
        queued_at = now - 120  # queued two minutes ago, while the phone's service was down
        firing = AlertState(KEY, "firing", "critical", queued_at, 3.1, queued_at, 3.1, ("phone",))
        msg = Message("phone", "1 critical", "CRITICAL near-liquidation", queued_at, (KEY,))
        store.commit_cycle({KEY: firing}, [(k, msg) for k in routes(cfg)["phone"]])
        assert Deliverer(cfg, store).deliver_all_once().dropped == 1
        store.close()
    assert rx.bodies() == []
    from riskwatch.cli.status import report

    row = next(ln for ln in report(state, now) if ln.startswith("near-liq"))
    assert "dropped, queued 2m00s ago" in row and " sent " not in row
