"""Properties of the alert lifecycle, checked with hypothesis over value and snapshot sequences."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from riskwatch.core.lifecycle import Lifecycle, quiet_check, step
from riskwatch.model import AlertState, Defaults
from riskwatch.store.db import state_from_json, state_to_json
from tests.engine_support import PT, Run, gap_rule, pos, snap

FAST = settings(max_examples=60, deadline=None)


@FAST
@given(st.lists(st.floats(min_value=13.0, max_value=16.99), min_size=1, max_size=40))
def test_oscillating_inside_the_band_fires_at_most_once(values: list[float]) -> None:
    run = Run(gap_rule(warning=15.0, critical=None, hysteresis=2.0, repeat=0.0))
    said = []
    for n, v in enumerate(values):
        said += run.gap(n * 10.0, v)
    assert said.count("firing:warning") <= 1
    assert said.count("resolved:warning") <= 1
    assert len(said) == said.count("firing:warning") + said.count("resolved:warning")


@FAST
@given(
    st.lists(st.floats(min_value=-5.0, max_value=30.0), min_size=1, max_size=40),
    st.floats(min_value=0.0, max_value=3.0),
)
def test_monotonically_worsening_value_escalates_once(values: list[float], h: float) -> None:
    run = Run(gap_rule(hysteresis=h, repeat=0.0))
    said = []
    for n, v in enumerate(sorted(values, reverse=True)):
        said += run.gap(n * 10.0, v)
    assert said.count("escalated:critical") <= 1
    assert said.count("firing:warning") + said.count("firing:critical") <= 1
    assert not any(s.startswith(("resolved", "deescalated")) for s in said)


SYMBOLS = ["AUSDT", "BUSDT", "CUSDT", "DUSDT"]
cycle_st = st.tuples(
    st.dictionaries(st.sampled_from(SYMBOLS), st.floats(min_value=-2.0, max_value=30.0)),
    st.booleans(),  # was the product type fetched?
)


@FAST
@given(st.lists(cycle_st, min_size=1, max_size=15))
def test_no_alert_outlives_its_position(cycles: list[tuple[dict[str, float], bool]]) -> None:
    run = Run(gap_rule(for_=15.0), gap_rule(name="other", warning=10.0, critical=None))
    for n, (gaps, fetched) in enumerate(cycles):
        before = dict(run.state)
        present = [pos(sym, gap) for sym, gap in gaps.items()] if fetched else []
        s = snap(*present, fetched=frozenset({PT}) if fetched else frozenset())
        run.cycle(n * 10.0, s)
        if fetched:
            assert {k[2] for k in run.state} <= set(gaps)
        else:
            assert run.state == before  # a failed fetch changes nothing


rules_st = st.builds(
    lambda op, w, c, h, wb, rep: gap_rule(
        op=op, warning=w, critical=c, hysteresis=h, worsen_by=wb, repeat=rep
    ),
    st.sampled_from(["<", "<=", ">", ">="]),
    st.one_of(st.none(), st.integers(0, 20).map(float)),
    st.one_of(st.none(), st.integers(0, 20).map(float)),
    st.sampled_from([0.0, 1.0, 2.5]),
    st.sampled_from([None, 0.0, 1.0, 3.0]),
    st.sampled_from([0.0, 60.0]),
)


@settings(max_examples=300, deadline=None)
@given(
    rules_st,
    st.sampled_from(["warning", "critical"]),
    st.integers(-5, 25).map(float),
    st.one_of(st.none(), st.integers(-5, 25).map(float)),
    st.sampled_from([None, 0.0, 30.0]),
    st.integers(-5, 25).map(float),
)
def test_fast_path_agrees_with_step_both_ways(
    rule, sev, last_value, sent_value, sent_at, value
) -> None:
    lc = Lifecycle.of(rule, Defaults())
    prev = AlertState(
        ("near", PT, "X", "long"), "firing", sev, 0.0, last_value, sent_at, sent_value,
        metric="liq_gap_pct", op=rule.op, scope="position",
    )  # fmt: skip
    quiet = quiet_check(lc)(value, prev, 60.0)
    t, new = step(lc, prev.key, value, prev, 60.0, lambda: ())
    steady = t is None and new is prev
    assert quiet == steady  # both ways: the fast path skips exactly the steady alerts


plain = st.one_of(st.none(), st.floats(allow_nan=False), st.text(max_size=5))
state_st = st.builds(
    AlertState,
    key=st.tuples(st.text(max_size=5), st.text(max_size=5), st.text(max_size=5), st.just("")),
    status=st.sampled_from(["pending", "firing"]),
    severity=st.sampled_from(["warning", "critical"]),
    since=st.floats(allow_nan=False),
    value=st.one_of(st.none(), st.floats(allow_nan=False)),
    last_sent_at=st.one_of(st.none(), st.floats(allow_nan=False)),
    last_sent_value=st.one_of(st.none(), st.floats(allow_nan=False)),
    channels=st.lists(st.text(max_size=5), max_size=3).map(tuple),
    context=st.lists(st.tuples(st.text(max_size=5), plain), max_size=4).map(tuple),
    metric=st.text(max_size=5),
    op=st.sampled_from(["<", ">="]),
    scope=st.sampled_from(["position", "account"]),
)


@FAST
@given(st.lists(state_st, max_size=5, unique_by=lambda s: s.key))
def test_state_round_trips_through_json(states: list[AlertState]) -> None:
    """The store's serialiser (the only one) gives back every state exactly."""
    for state in states:
        assert state_from_json(state_to_json(state)) == state
