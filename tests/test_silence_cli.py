"""``riskwatch silence`` and ``riskwatch ack`` in-process: ids, tables, one-line errors."""

from __future__ import annotations

from riskwatch.cli.main import main
from riskwatch.model import AlertState
from riskwatch.store.db import Store

KEY = ("near-liquidation", "USDT-FUTURES", "BTCUSDT", "long", "default")


def _state(tmp_path) -> str:
    """A state dir as a daemon leaves it."""
    sd = str(tmp_path / "state")
    Store.open(sd).close()
    return sd


def test_add_list_expire_and_status(tmp_path, capsys):
    sd = _state(tmp_path)
    assert main(["silence", "add", "--state-dir", sd, "--rule", "near-*", "--side", "long",
                 "--for", "2h", "--comment", "adding margin"]) == 0  # fmt: skip
    sid = capsys.readouterr().out.strip()
    assert len(sid) == 8
    assert main(["silence", "list", "--state-dir", sd]) == 0
    listed = capsys.readouterr().out
    assert sid in listed and "rule=near-* side=long" in listed and "adding margin" in listed
    assert main(["status", "--state-dir", sd]) == 0
    assert "Silences (1):" in capsys.readouterr().out
    assert main(["silence", "expire", "--state-dir", sd, sid[:3]]) == 0
    assert f"silence {sid} (rule=near-* side=long) expired" in capsys.readouterr().out
    assert main(["silence", "list", "--state-dir", sd]) == 0
    assert capsys.readouterr().out == "No active silences.\n"
    assert main(["silence", "list", "--all", "--state-dir", sd]) == 0
    assert "(ended)" in capsys.readouterr().out


def test_mistakes_are_one_line_errors(tmp_path, capsys):
    sd = _state(tmp_path)
    assert main(["silence", "add", "--state-dir", sd, "--for", "2 hours"]) == 1
    assert capsys.readouterr().err.strip().startswith("silence add: --for: '2 hours' is not")
    assert main(["silence", "expire", "--state-dir", sd, "nope"]) == 1
    assert "no active silence with id 'nope'" in capsys.readouterr().err
    assert main(["silence", "add", "--state-dir", sd, "--side", "up", "--for", "1h"]) == 2
    assert (
        main(["silence", "add", "--state-dir", sd, "--rule", "riskwatch-stale", "--for", "1h"]) == 1
    )
    assert "riskwatch-stale is never silenced; riskwatch ack" in capsys.readouterr().err
    assert main(["ack", "--state-dir", sd, "near-liquidation", "BTCUSDT"]) == 1
    err = capsys.readouterr().err
    assert "ack: no firing alert near-liquidation BTCUSDT" in err and "Traceback" not in err


def test_ack_marks_the_firing_alert_and_status_lists_it(tmp_path, capsys):
    sd = str(tmp_path / "state")
    store = Store.open(sd)
    alert = AlertState(key=KEY, status="firing", severity="critical", since=1.0, value=3.0)
    store.commit_cycle({KEY: alert})
    store.close()
    assert main(["ack", "--state-dir", sd, "NEAR-LIQUIDATION", "btcusdt", "long"]) == 0
    assert capsys.readouterr().out == "acked near-liquidation BTCUSDT long (critical)\n"
    assert main(["status", "--state-dir", sd]) == 0
    out = capsys.readouterr().out
    assert "Acknowledged (1):" in out and "near-liquidation  BTCUSDT  long" in out


def test_a_built_in_alert_is_acked_by_its_name_alone(tmp_path, capsys):
    sd = str(tmp_path / "state")
    store = Store.open(sd)
    stale = ("riskwatch-stale", "", "", "", "default")
    store.commit_cycle({stale: AlertState(key=stale, status="firing", severity="critical",
                                          since=1.0, value=None)})  # fmt: skip
    store.close()
    assert main(["ack", "--state-dir", sd, "riskwatch-stale"]) == 0
    assert capsys.readouterr().out == "acked riskwatch-stale (critical)\n"


def test_a_state_dir_no_daemon_keeps_is_refused_and_not_created(tmp_path, capsys):
    sd = str(tmp_path / "typo")
    for argv in (["silence", "add", "--for", "1h"], ["silence", "list"], ["ack", "x", "Y"]):
        assert main([*argv, "--state-dir", sd]) == 1
        err = capsys.readouterr().err
        assert f"state dir {sd}: no riskwatch state here" in err and "Traceback" not in err
    assert not (tmp_path / "typo").exists()


def test_expire_needs_an_id(tmp_path, capsys):
    sd = _state(tmp_path)
    assert main(["silence", "add", "--state-dir", sd, "--for", "1h"]) == 0
    capsys.readouterr()
    assert main(["silence", "expire", "--state-dir", sd, " "]) == 1
    assert "no active silence with id ' '" in capsys.readouterr().err
    assert main(["silence", "list", "--state-dir", sd]) == 0
    assert "Silences (1):" in capsys.readouterr().out


def test_a_broken_rules_file_is_named_by_the_command_that_fell_back(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("STATE_DIRECTORY", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    missing = str(tmp_path / "nope.yaml")
    assert main(["silence", "add", "-c", missing, "--for", "1h"]) == 1
    first = capsys.readouterr().err.splitlines()[0]
    assert first.startswith("silence add: the rules file could not be used")
    assert "using the default state dir" in first


def test_the_commands_leave_a_corrupt_row_to_the_daemon(tmp_path, capsys):
    import sqlite3

    from riskwatch.store.db import FILENAME

    sd = _state(tmp_path)
    with sqlite3.connect(f"{sd}/{FILENAME}") as conn:
        conn.execute("INSERT INTO alerts (key, data) VALUES ('k', 'not json')")
    conn.close()
    assert main(["silence", "add", "--state-dir", sd, "--for", "1h"]) == 0
    assert main(["ack", "--state-dir", sd, "near-liquidation", "BTCUSDT"]) == 1
    store = Store.open(sd, quarantine=False)
    assert store.quarantined() == 0 and len(store.corrupt) == 1  # still there, for the daemon
    store.close()
