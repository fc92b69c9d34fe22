"""The Alertmanager ledger and payload (``render.alertmanager``): pure, so no server here."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from riskwatch.model import AlertmanagerSettings, AlertState, Config, Rule, Transition
from riskwatch.render import alertmanager as am

RESEND = 60.0
BTC = ("near-liquidation", "USDT-FUTURES", "BTCUSDT", "long", "default")
ACC = ("account-risk", "USDT-FUTURES", "USDT", "", "default")


def firing(key=BTC, severity="warning", since=1000.0, value=7.5, scope="position") -> AlertState:
    return AlertState(
        key, "firing", severity, since, value, metric="liq_gap_pct", op="<", scope=scope
    )  # type: ignore[arg-type]


def trans(kind, key=BTC, severity="warning", prev=None, value=7.5, at=1000.0) -> Transition:
    return Transition(
        key=key,
        kind=kind,
        severity=severity,
        previous_severity=prev,
        rule=key[0],
        metric="liq_gap_pct",
        value=value,
        threshold=8.0 if severity == "warning" else 4.0,
        op="<",
        at=at,
        channels=(),
        fields=(("symbol", key[2]), ("side", key[3]), ("markPrice", 93500.0)),
    )  # type: ignore[arg-type]


def plan(book, states, transitions, now, **kw):
    return am.plan(book, {s.key: s for s in states}, transitions, now, resend=RESEND, **kw)


def by_severity(posted):
    return {dict(e.labels)["severity"]: e for e in posted}


def test_labels_name_the_alert_as_two_prometheus_rules_would():
    pos = dict(am.labels_for(BTC, "critical", "position", (("team", "desk"),)))
    assert pos == {
        "alertname": "near-liquidation",
        "severity": "critical",
        "account": "default",
        "symbol": "BTCUSDT",
        "side": "long",
        "product_type": "USDT-FUTURES",
        "source": "riskwatch",
        "team": "desk",
    }
    acc = dict(am.labels_for(ACC, "warning", "account"))
    assert acc["margin_coin"] == "USDT" and "symbol" not in acc and "side" not in acc
    stale = dict(am.labels_for(("riskwatch-stale", "", "", "", "default"), "critical", "builtin"))
    assert stale == {
        "alertname": "riskwatch-stale",
        "severity": "critical",
        "account": "default",
        "source": "riskwatch",
    }


def test_a_new_alert_is_posted_at_once_then_every_resend_with_endsat_four_resends_ahead():
    book, posted = plan({}, [firing()], [trans("firing")], 1000.0)
    (e,) = posted
    assert e.starts_at == 1000.0 and e.ends_at == 1000.0 + 4 * RESEND
    assert e.summary.startswith("WARNING near-liquidation BTCUSDT long")
    assert e.value == "7.5"
    book, posted = plan(book, [firing()], [], 1030.0)
    assert posted == [], "nothing changed and no resend is due"
    book, posted = plan(book, [firing()], [], 1060.0)
    assert [p.ends_at for p in posted] == [1060.0 + 4 * RESEND]
    assert posted[0].starts_at == 1000.0, "startsAt stays when the alert was first posted"


def test_a_resolve_is_posted_three_times_resend_apart_then_forgotten():
    book, _ = plan({}, [firing()], [trans("firing")], 1000.0)
    book, posted = plan(book, [], [trans("resolved", value=9.0, at=1010.0)], 1010.0)
    (e,) = posted
    assert e.ends_at == 1010.0 and e.summary.startswith("RESOLVED near-liquidation BTCUSDT")
    times = [1010.0]
    other = firing(key=("deep-drawdown", "USDT-FUTURES", "ETHUSDT", "short", "default"))
    for now in (1020.0, 1070.0, 1080.0, 1130.0, 1140.0, 1200.0):
        # another alert firing at 1020 forces a post: the resolve is not in it (not due)
        states = [other] if now >= 1020.0 else []
        ts = [trans("firing", key=other.key)] if now == 1020.0 else []
        book, posted = plan(book, states, ts, now)
        if any(dict(p.labels)["alertname"] == "near-liquidation" for p in posted):
            times.append(now)
    assert times == [1010.0, 1070.0, 1130.0]
    assert all(dict(k)["alertname"] != "near-liquidation" for k in book)


def test_a_resolve_without_a_line_is_still_posted_whatever_send_resolved_says():
    book, _ = plan({}, [firing()], [trans("firing")], 1000.0)
    book, posted = plan(book, [], [], 1010.0)  # send_resolved: false emits no transition
    assert [p.ends_at for p in posted] == [1010.0]


def test_escalation_resolves_the_warning_labelled_alert_and_fires_the_critical_one():
    book, _ = plan({}, [firing()], [trans("firing")], 1000.0)
    crit = firing(severity="critical", value=3.0)
    book, posted = plan(
        book, [crit], [trans("escalated", severity="critical", prev="warning", value=3.0)], 1010.0
    )
    sev = by_severity(posted)
    assert sev["warning"].ends_at == 1010.0, "the warning one resolves"
    assert sev["critical"].ends_at == 1010.0 + 4 * RESEND
    assert sev["critical"].starts_at == 1010.0, "the critical alert starts at the escalation"
    assert "[warning -> critical]" in sev["critical"].summary


def test_firing_again_while_its_resolves_are_repeated_stops_them():
    book, _ = plan({}, [firing()], [trans("firing")], 1000.0)
    book, _ = plan(book, [], [], 1010.0)
    book, posted = plan(book, [firing(since=1020.0)], [trans("firing", at=1020.0)], 1020.0)
    assert [p.ends_at for p in posted] == [1020.0 + 4 * RESEND]
    book, posted = plan(book, [firing(since=1020.0)], [], 1070.0)
    assert posted == [], "no stale resolve goes out after it fired again"


def test_a_firing_alert_without_a_ledger_entry_is_posted_from_the_state():
    """After a restart that lost the ledger, or alertmanager just configured."""
    _, posted = plan({}, [firing(since=500.0, scope="account", key=ACC)], [], 1000.0)
    (e,) = posted
    assert e.starts_at == 500.0 and dict(e.labels)["margin_coin"] == "USDT"
    assert e.summary.startswith("WARNING account-risk USDT")


def test_rule_labels_join_and_a_change_of_them_resolves_the_old_label_set():
    book, _ = plan({}, [firing()], [trans("firing")], 1000.0, rule_labels={})
    new = {"near-liquidation": (("team", "desk"),)}
    book, posted = plan(book, [firing()], [], 1010.0, rule_labels=new)
    ends = {dict(p.labels).get("team", ""): p.ends_at for p in posted}
    assert ends == {"": 1010.0, "desk": 1010.0 + 4 * RESEND}


def test_api_alerts_are_rfc3339_and_a_delayed_firing_post_is_not_expired_on_arrival():
    book, _ = plan({}, [firing()], [trans("firing")], 1000.0)
    book, more = plan(book, [firing(severity="critical")], [], 1010.0)
    msg = am.message(more, 1010.0)
    assert msg.title == "alertmanager: 1 firing, 1 resolved" and msg.channel == "alertmanager"
    alerts = am.api_alerts(msg.body, 1010.0 + 300)  # waited five minutes in the outbox
    sev = {a["labels"]["severity"]: a for a in alerts}  # type: ignore[index]
    assert sev["warning"]["endsAt"] == "1970-01-01T00:16:50.000Z", "a resolve keeps its time"
    assert sev["critical"]["endsAt"] == am.rfc3339(1010.0 + 300 + 4 * RESEND)
    assert sev["critical"]["startsAt"] == "1970-01-01T00:16:40.000Z", "no line: the state's"
    assert set(sev["critical"]["annotations"]) == {"summary", "value"}  # type: ignore[arg-type]


def test_a_start_after_the_end_is_never_posted():
    """Alertmanager answers 400 to a whole post with one alert starting after it ends (a clock
    stepped back past a firing alert's start): every later post would carry it and fail too."""
    entry = am.Entry(BTC, am.labels_for(BTC, "warning", "position"), "W", "", 5000.0, 1240.0, 0)
    (alert,) = am.api_alerts(am.message([entry], 1000.0).body, 1000.0)
    assert alert["startsAt"] <= alert["endsAt"] == am.rfc3339(1240.0)  # type: ignore[operator]


def test_an_event_is_posted_once_named_by_what_happened_and_ends_one_resend_later():
    liq = Transition(
        key=("event:liquidated", "USDT-FUTURES", "BTCUSDT", "long", "default"),
        kind="event",
        severity="critical",
        previous_severity=None,
        rule="",
        metric="",
        value=None,
        threshold=None,
        op=None,
        at=990.0,  # the fill's time, read a cycle later
        channels=(),
        reason="liquidated",
    )
    book, posted = plan({}, [], [liq], 1000.0, lines=["LIQUIDATED BTCUSDT long: 0.5 closed"])
    (e,) = posted
    assert dict(e.labels)["alertname"] == "liquidated" and dict(e.labels)["symbol"] == "BTCUSDT"
    assert (e.starts_at, e.ends_at) == (990.0, 1000.0 + RESEND)
    assert e.summary == "LIQUIDATED BTCUSDT long: 0.5 closed"
    assert book == {}, "posted once: nothing left to post"
    assert plan(book, [], [], 1000.0 + RESEND)[1] == []


def test_the_ledger_survives_a_restart_and_garbage_reads_as_empty():
    book, _ = plan({}, [firing()], [trans("firing")], 1000.0)
    book, _ = plan(book, [firing(severity="critical")], [], 1010.0)
    assert am.loads(am.dumps(book)) == book
    for junk in ("", "{", "[[1]]", '{"a": 1}', "[null]"):
        assert am.loads(junk) == {}


def test_outgoing_posts_one_copy_per_url_and_nothing_without_alertmanager():
    rule = Rule(
        name="near-liquidation", metric="liq_gap_pct", op="<", warning=8, labels=(("t", "x"),)
    )
    cfg = Config(path="r", rules=(rule,), alertmanager=AlertmanagerSettings(urls=("http://a",)))
    routes = {am.ROUTE: ["k1", "k2"], "phone": ["k3"]}
    state = {BTC: firing()}
    book, out = am.outgoing({}, cfg, state, [trans("firing")], routes, 1000.0)
    assert [d for d, _ in out] == ["k1", "k2"]
    (alert,) = json.loads(out[0][1].body)["alerts"]
    assert alert["labels"]["t"] == "x"
    assert am.outgoing(book, Config(path="r"), state, [], routes, 1100.0) == ({}, [])


def test_the_probe_alert_fires_now_and_ends_by_itself_one_resend_later():
    msg = am.probe_alert(1000.0, RESEND, "host1")
    (alert,) = am.api_alerts(msg.body, 1000.0)
    assert alert["labels"] == {  # of no account (like riskwatch-config): no account label
        "alertname": "riskwatch-test",
        "severity": "info",
        "source": "riskwatch",
    }
    assert alert["endsAt"] == am.rfc3339(1060.0)


KEYS = [BTC, ("near-liquidation", "USDT-FUTURES", "ETHUSDT", "short", "default"), ACC]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.dictionaries(st.integers(0, 2), st.sampled_from(["warning", "critical"])),
            st.floats(0.5, 2 * RESEND),
        ),
        min_size=1,
        max_size=25,
    )
)
def test_every_post_carries_all_that_fires_and_a_resolve_goes_out_at_once_at_most_3_times(
    steps,
):
    book: dict = {}
    now = 1000.0
    resolves: dict = {}  # label set -> resolve posts since it last fired
    before: set = set()
    for firing_now, advance in steps:
        now += advance
        states = [
            firing(key=KEYS[i], severity=sev, scope="account" if i == 2 else "position")
            for i, sev in firing_now.items()
        ]
        book, posted = plan(book, states, [], now)
        desired = {am.labels_for(s.key, s.severity, s.scope) for s in states}
        assert {lab for lab, e in book.items() if e.ends_at is None} == desired
        if posted:
            assert {e.labels for e in posted if e.ends_at and e.ends_at > now} == desired
        ended = {e.labels for e in posted if e.ends_at is not None and e.ends_at <= now}
        assert before - desired <= ended, "a resolve goes out in the cycle it happens"
        for lab in desired:
            resolves.pop(lab, None)
        for lab in ended:
            resolves[lab] = resolves.get(lab, 0) + 1
            assert resolves[lab] <= am.RESOLVE_POSTS
        before = desired
