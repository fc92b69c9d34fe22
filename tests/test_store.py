"""The store: exact round trips, one transaction per cycle, migrations, permissions, errors."""

from __future__ import annotations

import os
import sqlite3
import stat

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskwatch.errors import StoreError
from riskwatch.model import AlertState, Message
from riskwatch.store.db import FILENAME, MIGRATIONS, Store, state_from_json, state_to_json

KEY = ("near-liquidation", "USDT-FUTURES", "BTCUSDT", "long", "default")


def _state(key=KEY, **kw) -> AlertState:
    base = dict(
        key=key,
        status="firing",
        severity="warning",
        since=1000.5,
        value=3.25,
        last_sent_at=1000.5,
        last_sent_value=3.25,
        channels=("phone", "team"),
        context=(("markPrice", 100.0), ("liquidationPrice", "97"), ("x", None)),
    )
    base.update(kw)
    return AlertState(**base)


def _msg(body="hello", at=1000.0) -> Message:
    return Message(channel="phone", title="1 warning", body=body, created_at=at, keys=(KEY,))


floats = st.floats(allow_nan=False, allow_infinity=True) | st.none()
texts = st.text(max_size=12)


@settings(max_examples=60, deadline=None)
@given(
    key=st.tuples(texts, texts, texts, texts),
    status=st.sampled_from(["pending", "firing"]),
    severity=st.sampled_from(["warning", "critical"]),
    since=st.floats(allow_nan=False, allow_infinity=False),
    value=floats,
    channels=st.tuples(texts, texts),
    context=st.lists(st.tuples(texts, texts | floats), max_size=4).map(tuple),
)
def test_alert_state_round_trips_exactly(key, status, severity, since, value, channels, context):
    s = AlertState(key, status, severity, since, value, value, since, channels, context)
    again = state_from_json(state_to_json(s))
    assert again == s
    assert isinstance(again.key, tuple) and isinstance(again.context, tuple)


def test_state_survives_reopen(tmp_path):
    path = str(tmp_path / "s")
    s = Store.open(path)
    other = (*KEY[:2], "ETHUSDT", "short", "default")
    s.commit_cycle({KEY: _state(), other: _state(other, status="pending")})
    s.close()
    s = Store.open(path)
    assert s.load_state() == {KEY: _state(), other: _state(other, status="pending")}
    assert [k for k, a in s.load_state().items() if a.status == "firing"] == [KEY]
    # an alert absent from the next cycle's state is gone
    s.commit_cycle({other: _state(other, status="pending")})
    s.close()
    assert set(Store.open(path).load_state()) == {other}


def test_commit_cycle_queues_messages_and_meta_together(store):
    store.commit_cycle({KEY: _state()}, [("d1", _msg()), ("d2", _msg("b2"))], {"last_success": "5"})
    items = store.undelivered()
    assert [(i.dest_key, i.body, i.attempts, i.keys) for i in items] == [
        ("d1", "hello", 0, (KEY,)),
        ("d2", "b2", 0, (KEY,)),
    ]
    assert store.get_meta("last_success") == "5"
    assert store.undelivered("d2")[0].body == "b2"
    assert store.dest_keys() == {"d1", "d2"}


def test_failed_commit_leaves_old_state_and_no_messages(store):
    store.commit_cycle({KEY: _state()}, [("d1", _msg())])
    bad = ("d2", Message("phone", "t", object(), 1.0))  # type: ignore[arg-type]
    with pytest.raises(StoreError):  # every failure leaves the store as its own error
        store.commit_cycle({}, [("d1", _msg("new")), bad], {"k": "v"})
    assert store.load_state() == {KEY: _state()}
    assert [i.body for i in store.undelivered()] == ["hello"]
    assert store.get_meta("k") is None
    # and the in-memory picture did not advance: the next commit still removes the alert
    store.commit_cycle({})
    assert store.load_state() == {}


def test_outbox_bookkeeping(store):
    store.commit_cycle({}, [("d1", _msg())])
    (item,) = store.undelivered()
    store.mark_parts_sent(item.id, 2)
    store.mark_failed(item.id, attempts=3, next_attempt_at=99.0, error="HTTP 500")
    (item,) = store.undelivered()
    assert (item.parts_sent, item.attempts, item.next_attempt_at, item.last_error) == (
        2,
        3,
        99.0,
        "HTTP 500",
    )
    store.remove(item.id)
    assert store.undelivered() == []


def test_meta(store):
    assert store.get_meta("account_mode") is None
    store.set_meta("account_mode", "unified")
    store.set_meta("account_mode", "classic")
    assert store.get_meta("account_mode") == "classic"


def test_permissions_and_wal(tmp_path):
    d = tmp_path / "new" / "state"
    Store.open(str(d)).close()
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(d / FILENAME).st_mode) == 0o600
    conn = sqlite3.connect(d / FILENAME)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


def test_newer_schema_is_refused(tmp_path):
    d = tmp_path / "s"
    Store.open(str(d)).close()
    conn = sqlite3.connect(d / FILENAME)
    conn.execute(f"PRAGMA user_version={len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer riskwatch"):
        Store.open(str(d))


def test_unusable_file_is_a_store_error_naming_it(tmp_path):
    d = tmp_path / "s"
    d.mkdir()
    (d / FILENAME).write_bytes(b"this is not a database, just some bytes " * 100)
    with pytest.raises(StoreError, match=FILENAME):
        Store.open(str(d))


def test_unwritable_dir_is_a_store_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot create state dir"):
        Store.open(str(blocker / "state"))


def test_unreadable_alert_row_is_a_store_error_naming_table_and_id(tmp_path):
    d = tmp_path / "s"
    Store.open(str(d)).close()
    conn = sqlite3.connect(d / FILENAME)
    conn.execute("INSERT INTO alerts (key, data) VALUES ('k', 'not json')")
    conn.commit()
    conn.close()
    shown = Store.open(str(d), quarantine=False)  # status: reported, left in place
    assert shown.load_state() == {}
    assert [str(e) for e in shown.corrupt] == [
        f"{d / FILENAME}: corrupt row in alerts (id k): data unreadable (JSONDecodeError)"
    ]
    assert isinstance(shown.corrupt[0], StoreError)
    shown.close()
    moved = Store.open(str(d))  # the daemon: set aside, once
    assert moved.load_state() == {} and moved.quarantined() == 1
    moved.close()
    again = Store.open(str(d), quarantine=False)
    assert again.corrupt == [] and again.quarantined() == 1
    again.close()


def test_unchanged_alerts_are_kept_and_changed_ones_rewritten(store):
    a, b = _state(), _state((*KEY[:2], "ETHUSDT", "long", "default"))
    store.commit_cycle({a.key: a, b.key: b})
    b2 = AlertState(**{**{f: getattr(b, f) for f in b.__slots__}, "value": 1.5})
    store.commit_cycle({a.key: a, b.key: b2})
    assert store.load_state() == {a.key: a, b.key: b2}


def test_a_failed_commit_does_not_leave_the_connection_in_a_transaction(store):
    """COMMIT itself can fail (disk full, I/O error, here a deferred foreign key): the next
    cycle must still be able to BEGIN, or no alert would ever be saved again."""
    conn = store._conn
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("CREATE TEMP TABLE parent (id INTEGER PRIMARY KEY)")
    conn.execute(
        "CREATE TEMP TABLE child (pid INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)"
    )
    conn.execute(
        "CREATE TEMP TRIGGER poison AFTER INSERT ON main.meta WHEN NEW.key = 'poison'"
        " BEGIN INSERT INTO child VALUES (42); END"
    )
    with pytest.raises(StoreError, match="FOREIGN KEY"):
        store.commit_cycle({KEY: _state()}, [("d1", _msg("lost"))], {"poison": "1"})
    assert not conn.in_transaction
    assert store.load_state() == {} and store.undelivered() == []

    store.commit_cycle({KEY: _state()}, [("d1", _msg("saved"))], {"k": "v"})
    assert store.load_state() == {KEY: _state()}
    assert [i.body for i in store.undelivered()] == ["saved"]
    assert store.get_meta("k") == "v"


def test_readonly_reads_and_refuses_every_write(tmp_path):
    state_dir = str(tmp_path / "state")
    rw = Store.open(state_dir)
    rw.commit_cycle({KEY: _state()}, [("d1", _msg())], {"k": "v"})
    rw.close()
    db = tmp_path / "state" / FILENAME
    before, listing = db.read_bytes(), sorted(os.listdir(state_dir))

    ro = Store.open(state_dir, readonly=True)
    assert ro.load_state() == {KEY: _state()} and ro.get_meta("k") == "v"
    (item,) = ro.undelivered()
    writes = [
        lambda: ro.commit_cycle({}),
        lambda: ro.set_meta("k", "w"),
        lambda: ro.mark_parts_sent(item.id, 1),
        lambda: ro.mark_failed(item.id, attempts=1, next_attempt_at=1.0, error="x"),
        lambda: ro.remove(item.id),
    ]
    for write in writes:
        with pytest.raises(StoreError, match="read-only"):
            write()
    assert sorted(os.listdir(state_dir)) == listing
    ro.close()
    assert db.read_bytes() == before and sorted(os.listdir(state_dir)) == listing


def test_readonly_sees_what_a_running_daemon_has_only_in_its_wal(tmp_path):
    state_dir = str(tmp_path / "state")
    rw = Store.open(state_dir)
    rw.commit_cycle({KEY: _state()})  # in the -wal file until a checkpoint
    listing = sorted(os.listdir(state_dir))
    ro = Store.open(state_dir, readonly=True)
    assert ro.load_state() == {KEY: _state()}
    ro.close()
    assert sorted(os.listdir(state_dir)) == listing
    rw.close()


@pytest.mark.parametrize(("version", "says"), [(0, "without --dry-run"), (99, "upgrade")])
def test_readonly_refuses_another_schema_version(tmp_path, version, says):
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    conn = sqlite3.connect(state_dir / FILENAME)
    conn.execute(f"PRAGMA user_version={version}")
    conn.close()
    before = (state_dir / FILENAME).read_bytes()
    with pytest.raises(StoreError, match=says):
        Store.open(str(state_dir), readonly=True)
    assert (state_dir / FILENAME).read_bytes() == before  # not migrated


def test_readonly_needs_an_existing_file(tmp_path):
    with pytest.raises(StoreError, match="no such file"):
        Store.open(str(tmp_path / "state"), readonly=True)
    assert not (tmp_path / "state").exists()


def test_an_alert_whose_context_holds_a_container_is_set_aside(tmp_path):
    """A resolve line renders the stored context: a list or an object there (a hand edit, an
    old backup) ended every cycle with a TypeError, so the daemon restarted into it forever."""
    from riskwatch.core import engine
    from riskwatch.model import AlertState
    from riskwatch.render import lines as render
    from tests.engine_support import DEFAULTS, pos, snap

    key = ("gone-rule", "USDT-FUTURES", "BTCUSDT", "long", "default")
    context = (("symbol", "BTCUSDT"), ("side", "long"), ("markPrice", {"x": 1}))
    stored = AlertState(key, "firing", "critical", 1.0, 3.0, 1.0, 3.0, ("phone",), context,
                        "liq_gap_pct", "<", "position")  # fmt: skip
    Store.open(str(tmp_path / "s")).commit_cycle({key: stored})
    shown = Store.open(str(tmp_path / "s"), quarantine=False)  # status: named
    assert "a context value is not a number or text" in str(shown.corrupt[0])
    shown.close()
    store = Store.open(str(tmp_path / "s"))  # the next start: set aside
    state = store.load_state()
    assert state == {} and store.quarantined() == 1
    store.close()
    transitions, _ = engine.evaluate([], snap(pos()), state, 100.0, defaults=DEFAULTS)
    assert [render.line(t) for t in transitions] == []


def test_a_corrupt_history_row_is_left_out_and_named(tmp_path):
    d = tmp_path / "s"
    Store.open(str(d)).close()
    conn = sqlite3.connect(d / FILENAME)
    conn.execute("INSERT INTO history (at, kind, text) VALUES (5, 'line', 'kept')")
    conn.execute("INSERT INTO history (at, kind, text) VALUES ('yesterday', 'line', 'bad')")
    conn.commit()
    conn.close()
    store = Store.open(str(d), quarantine=False)
    assert [r.text for r in store.read_history(0)] == ["kept"]
    assert [str(e) for e in store.corrupt] == [
        f"{d / FILENAME}: corrupt row in history (at 'yesterday'): at is not a number"
    ]
    store.close()
