"""Silences, acks, quiet hours and escalation over real cycles: the engine, the answering
layer and the store, with the clock passed in (freezegun where the wall clock is read)."""

from __future__ import annotations

import time

import pytest
from freezegun import freeze_time

from riskwatch.core.silences import Silence
from riskwatch.model import Escalate, QuietWindow
from riskwatch.store import silences as stored
from tests.answering_support import Rig, config

KEY = ("near-liquidation", "USDT-FUTURES", "BTCUSDT", "long", "default")


@pytest.fixture
def rig(tmp_path):
    r = Rig(str(tmp_path / "state"), config(str(tmp_path / "state")))
    yield r
    r.close()


def _silence(rig: Rig, seconds: float, **globs: str) -> Silence:
    s = Silence(id="", starts_at=rig.t, ends_at=rig.t + seconds, **globs)
    return stored.add_silence(rig.store, s)


def test_a_silenced_alert_keeps_its_lifecycle_and_says_one_line_when_the_silence_expires(rig):
    _silence(rig, 3600, rule="near-*", symbol="btc*")
    rig.exchange.gaps = {"BTCUSDT": 8.0, "ETHUSDT": 8.0}
    first = rig.cycle()
    assert [line.split(":")[0] for line in first["phone"]] == [
        "WARNING near-liquidation ETHUSDT long"
    ]
    assert rig.watcher.state[KEY].status == "firing"  # the lifecycle goes on
    rig.exchange.gaps["BTCUSDT"] = 3.0
    assert rig.cycle(60) == {}  # escalation silenced too
    assert rig.watcher.state[KEY].severity == "critical"
    btc = [x for x in rig.cycle(3600)["phone"] if "BTCUSDT" in x]
    assert [x.split("; ")[0] for x in btc] == [
        "CRITICAL near-liquidation BTCUSDT long [silence ended, still firing]: 3% from"
        " liquidation (below 4%)"
    ]
    assert rig.cycle(60) == {}  # one line, and the repeat clock started over


def test_expiring_a_silence_early_sends_the_line_within_one_cycle(rig):
    s = _silence(rig, 7200, symbol="BTCUSDT")
    rig.exchange.gaps = {"BTCUSDT": 8.0}
    assert rig.cycle() == {}
    stored.expire_silence(rig.store, s.id[:4], rig.t + 5)
    lines = rig.cycle(10)["phone"]
    assert lines[0].startswith("WARNING near-liquidation BTCUSDT long [silence ended")


def test_a_silence_that_ends_after_the_alert_resolved_says_nothing(rig):
    _silence(rig, 600, side="long")
    rig.exchange.gaps = {"BTCUSDT": 8.0}
    rig.cycle()
    rig.exchange.gaps = {"BTCUSDT": 30.0}
    assert rig.cycle(60) == {}  # the resolve is silenced too
    assert rig.cycle(600) == {}


def test_an_ack_stops_repeats_until_worsened_and_a_resolve_ends_it(rig):
    rig.exchange.gaps = {"BTCUSDT": 8.0}
    assert rig.cycle()["phone"]
    stored.add_ack(rig.store, KEY, "alice", rig.t)
    assert rig.cycle(601) == {}  # the repeat is not sent
    rig.exchange.gaps["BTCUSDT"] = 5.9  # worsened by 2.1
    assert "[worsened]" in rig.cycle(10)["phone"][0]
    assert rig.cycle(700) == {}  # still acked
    rig.exchange.gaps["BTCUSDT"] = 30.0
    assert rig.cycle(10)["phone"][0].startswith("RESOLVED")
    assert stored.acks(rig.store) == {}
    rig.exchange.gaps["BTCUSDT"] = 8.0
    rig.cycle(10)
    assert "still firing" in rig.cycle(601)["phone"][0]  # a new spell, not acked


def test_an_escalation_ends_the_ack_of_the_warning(rig):
    rig.exchange.gaps = {"BTCUSDT": 8.0}
    rig.cycle()
    stored.add_ack(rig.store, KEY, "alice", rig.t)
    rig.exchange.gaps["BTCUSDT"] = 3.0
    assert "[warning -> critical]" in rig.cycle(10)["phone"][0]
    assert stored.acks(rig.store) == {}
    assert "still firing" in rig.cycle(601)["phone"][0]


def test_an_unacked_critical_reaches_the_escalation_channel_once(tmp_path):
    cfg = config(str(tmp_path / "s"), escalate=Escalate(after=600, channels=("pager",)))
    rig = Rig(str(tmp_path / "s"), cfg)
    rig.exchange.gaps = {"BTCUSDT": 3.0, "ETHUSDT": 3.0}
    assert set(rig.cycle()) == {"phone"}
    eth = ("near-liquidation", "USDT-FUTURES", "ETHUSDT", "long", "default")
    stored.add_ack(rig.store, eth, "bob", rig.t)
    assert "pager" not in rig.cycle(300)
    rig.restart()  # the critical clock survives a restart
    paged = rig.cycle(301)["pager"]
    assert [x.split("; ")[0] for x in paged] == [
        "CRITICAL near-liquidation BTCUSDT long [not acked after 10m]: 3% from liquidation"
        " (below 4%)"
    ]
    later = [rig.cycle(400) for _ in range(3)]
    assert all("pager" not in c for c in later)  # once; the acked ETH never
    rig.close()


def test_quiet_hours_across_midnight_hold_warnings_and_pass_criticals(tmp_path):
    quiet = (QuietWindow(start=23 * 60, end=7 * 60),)
    cfg = config(str(tmp_path / "s"), quiet=quiet, timezone="Europe/Berlin")
    with freeze_time("2027-01-15 21:30:00") as frozen:  # 22:30 in Berlin: not yet quiet
        rig = Rig(str(tmp_path / "s"), cfg, clock=time.time)
        rig.exchange.gaps = {"BTCUSDT": 8.0}
        assert rig.cycle()["phone"]
        frozen.tick(3600)  # 23:30 Berlin: the repeat is due and held
        rig.exchange.gaps["ETHUSDT"] = 8.0  # a new warning: held
        rig.exchange.gaps["SOLUSDT"] = 8.0
        assert rig.cycle() == {}
        frozen.tick(600)
        rig.exchange.gaps["SOLUSDT"] = 30.0  # fired and cleared while quiet: never told
        rig.exchange.gaps["XRPUSDT"] = 3.0  # critical passes at once
        assert [x.split(":")[0] for x in rig.cycle()["phone"]] == [
            "CRITICAL near-liquidation XRPUSDT long"
        ]
        rig.exchange.gaps["XRPUSDT"] = 30.0
        assert rig.cycle()["phone"][0].startswith("RESOLVED near-liquidation XRPUSDT")
        frozen.tick(4 * 3600)  # 03:40 Berlin, past midnight: still quiet
        assert rig.cycle() == {}
        frozen.tick(3.5 * 3600)  # 07:10 Berlin: one summary
        lines = rig.cycle()["phone"]
        warn = [x for x in lines if x.startswith("WARNING")]
        assert [x.split(":")[0] for x in warn] == [
            "WARNING near-liquidation BTCUSDT long [held during quiet hours, still firing]",
            "WARNING near-liquidation ETHUSDT long [held during quiet hours, still firing]",
        ]
        assert not any("SOLUSDT" in x for x in lines)
        rig.close()


def test_events_and_built_in_alerts_are_never_silenced_nor_held(tmp_path):
    from riskwatch.core import answering
    from riskwatch.model import Transition

    base = dict(previous_severity=None, metric="", value=None, threshold=None, op=None,
                at=0.0, channels=("phone",))  # fmt: skip
    stale = Transition(key=("riskwatch-stale", "", "", "", "default"), kind="firing",
                       severity="critical",
                       rule="riskwatch-stale", builtin=True, **base)  # fmt: skip
    config = Transition(key=("riskwatch-config", "", "", "", ""), kind="firing", severity="warning",
                        rule="riskwatch-config", builtin=True, **base)  # fmt: skip
    event = Transition(key=KEY, kind="event", severity="warning", rule="near-liquidation", **base)
    everything = Silence(id="x", starts_at=0, ends_at=10)
    always_quiet = answering.Policy(quiet=(QuietWindow(start=0, end=1440),))
    ans = answering.answer(
        [stale, config, event], {}, {}, silences=[everything], acks={},
        policies={"riskwatch-config": always_quiet, "near-liquidation": always_quiet},
        timezone="UTC", now=1.0,
    )  # fmt: skip
    assert ans.send == (stale, config, event) and ans.muted == ()


def test_a_dry_run_reads_the_silences_and_writes_nothing(tmp_path):
    from riskwatch.service.cycle import Watcher
    from riskwatch.store.db import Store
    from tests.answering_support import Script

    state = str(tmp_path / "s")
    writer = Store.open(state)
    _silence_at = 1_800_000_000.0
    stored.add_silence(writer, Silence(id="", starts_at=_silence_at, ends_at=_silence_at + 60))
    writer.close()
    store = Store.open(state, readonly=True)
    exchange = Script()
    exchange.gaps = {"BTCUSDT": 8.0}
    clock = [_silence_at]
    w = Watcher(config(state), client=exchange, store=store, persist=False,
                destinations=lambda c: {ch.name: [ch.name] for ch in c.channels},
                clock=lambda: clock[0])  # fmt: skip
    assert w.cycle().outgoing == ()  # silenced
    clock[0] += 120
    (sent,) = w.cycle().outgoing
    assert "[silence ended, still firing]" in sent[1].body
    clock[0] += 10
    assert w.cycle().outgoing == ()  # remembered in memory: said once
    store.close()


def test_a_silence_added_while_firing_still_ends_with_one_line(rig):
    rig.exchange.gaps = {"BTCUSDT": 8.0}
    assert rig.cycle()["phone"]
    s = _silence(rig, 7200, symbol="BTCUSDT")
    assert rig.cycle(60) == {}  # nothing was due anyway; the silence is noted
    stored.expire_silence(rig.store, s.id, rig.t + 1)
    lines = rig.cycle(10)["phone"]
    assert len(lines) == 1 and "[silence ended, still firing]" in lines[0]
    assert rig.cycle(10) == {}


@pytest.mark.parametrize(
    "setting",
    [
        {"escalate": Escalate(after=86400, channels=("pager",))},
        {"quiet": (QuietWindow(start=20 * 60, end=21 * 60),)},
    ],
    ids=["escalate", "quiet_hours"],
)
def test_a_silence_over_a_remembered_alert_still_ends_with_one_line(tmp_path, setting):
    """With escalate or quiet hours configured every told alert is remembered; a silence added
    over one that says nothing meanwhile must still end with its line."""
    rig = Rig(str(tmp_path / "s"), config(str(tmp_path / "s"), **setting))
    rig.exchange.gaps = {"BTCUSDT": 8.0}
    assert rig.cycle()["phone"]
    s = _silence(rig, 7200, symbol="BTCUSDT")
    assert rig.cycle(60) == {}
    stored.expire_silence(rig.store, s.id, rig.t + 1)
    lines = rig.cycle(10)["phone"]
    assert len(lines) == 1 and "[silence ended, still firing]" in lines[0]
    assert rig.cycle(10) == {}
    rig.close()


def test_a_warning_whose_silence_ends_in_quiet_hours_waits_for_their_end(tmp_path):
    quiet = (QuietWindow(start=8 * 60 + 30, end=9 * 60 + 30),)  # the rig starts at 08:00 UTC
    rig = Rig(str(tmp_path / "s"), config(str(tmp_path / "s"), quiet=quiet))
    _silence(rig, 2100, symbol="BTCUSDT")  # ends at 08:35
    rig.exchange.gaps = {"BTCUSDT": 8.0}
    assert rig.cycle() == {}
    assert rig.cycle(1800) == {}  # 08:30: the repeat is silenced
    assert rig.cycle(360) == {}  # 08:36: the silence ended inside quiet hours: held
    lines = rig.cycle(3300)["phone"]  # 09:31
    assert len(lines) == 1 and "[held during quiet hours, still firing]" in lines[0]
    rig.close()


def test_a_corrupt_silence_ack_or_memory_row_is_set_aside_and_the_daemon_goes_on(tmp_path):
    """One bad row (a hand edit, a bit flip) must not stop the start nor every cycle after."""
    import sqlite3

    from riskwatch.store.db import FILENAME

    state = tmp_path / "s"
    rig = Rig(str(state), config(str(state)))
    good = _silence(rig, 3600, symbol="ETHUSDT")
    rig.close()
    mem = "INSERT INTO answering VALUES (?, ?)"
    five = '["a", "b", "c", "d", "e"]'
    bad = [
        ("INSERT INTO silences VALUES ('bad1', 'not json', 9e99)", ()),
        ("INSERT INTO silences VALUES ('bad2', ?, 9e99)", ('{"starts_at": "now", "ends_at": 1}',)),
        ("INSERT INTO acks VALUES ('[1, 2]', 'x', 1.0)", ()),
        ("INSERT INTO acks VALUES (?, 'x', 'soon')", (five,)),
        (mem, (f'["{KEY[0]}", "", "", "", ""]', '{"silenced": 1')),  # not JSON
        (mem, (five, '{"critical_since": ""}')),
        (mem, ('["a", "b", "c", "d", "f"]', '{"held": 1, "x": 2}')),  # no such field
        (mem, ('["a", "b", "c", "d"]', '{"held": true}')),  # a key of four
    ]  # fmt: skip
    with sqlite3.connect(state / FILENAME) as conn:
        for sql, args in bad:
            conn.execute(sql, args)
    conn.close()
    rig = Rig(str(state), config(str(state)))  # starts
    rig.exchange.gaps = {"BTCUSDT": 8.0, "ETHUSDT": 8.0}
    lines = rig.cycle()["phone"]
    assert [x.split(":")[0] for x in lines] == ["WARNING near-liquidation BTCUSDT long"]
    assert [s.id for s in stored.silences(rig.store)] == [good.id]
    assert rig.store.quarantined() == len(bad)
    rig.close()


def test_a_resolve_held_in_quiet_hours_is_sent_at_their_end_stamped_when_it_happened(tmp_path):
    quiet = (QuietWindow(start=8 * 60 + 30, end=9 * 60 + 30),)  # the rig starts at 08:00 UTC
    rig = Rig(str(tmp_path / "s"), config(str(tmp_path / "s"), quiet=quiet))
    rig.exchange.gaps = {"BTCUSDT": 8.0}
    assert rig.cycle()["phone"]
    rig.exchange.gaps = {"BTCUSDT": 30.0}
    assert rig.cycle(2400) == {}  # 08:40: resolved, held
    (line,) = rig.cycle(3600)["phone"]  # 09:40
    assert line.startswith("RESOLVED near-liquidation BTCUSDT long")
    assert line.endswith("[08:40:00 UTC]")  # not 09:40: it ended while quiet
    rig.close()
