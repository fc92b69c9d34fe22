"""The quiet cycle's shortcuts (bench/README "Where a quiet 10,000-position cycle goes") decide
exactly what the long way decides: ADL ranks set in place, the events tracker's rolls, carry's
early return. Each poll brings freshly built positions, so the tests build them fresh too."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from riskwatch.core import events
from riskwatch.exchange.normalise import positions as normalise
from riskwatch.model import Config, Position, Snapshot
from riskwatch.service.events import EventTracker

PT = "USDT-FUTURES"
CFG = Config(path="test")


def pos(symbol: str, side: str = "long", total: str = "1", liq: str = "90") -> Position:
    return Position(
        product_type=PT,
        symbol=symbol,
        side=side,  # type: ignore[arg-type]
        margin_coin="USDT",
        total=Decimal(total),
        mark_price=Decimal(100),
        liquidation_price=Decimal(liq),
        leverage=Decimal(10),
    )


def snap(t: float, *specs: tuple[str, ...], fetched=(PT,), unreadable=()) -> Snapshot:
    return Snapshot(
        taken_at=t,
        positions=tuple(pos(*s) for s in specs),
        fetched=frozenset(fetched),
        unreadable=frozenset(unreadable),
    )


def test_adl_ranks_set_in_place_equal_a_replace_and_fall_back_to_any_product_type():
    fresh = [pos("BTCUSDT"), pos("ethusdt", "short"), pos("XRPUSDT")]
    ranks = {(PT, "BTCUSDT", "long"): Decimal("0.9"), ("*", "ETHUSDT", "short"): Decimal("0.2")}
    expected = [
        dataclasses.replace(fresh[0], adl_rank=Decimal("0.9")),
        dataclasses.replace(fresh[1], adl_rank=Decimal("0.2")),
        fresh[2],
    ]
    normalise.set_adl_ranks(fresh, ranks)
    assert fresh == expected
    assert [hash(p) for p in fresh] == [hash(p) for p in expected]
    assert fresh[2].adl_rank is None


def test_fresh_equal_polls_raise_nothing_and_rewrite_the_positions_seen_once():
    tracker = EventTracker()
    specs = [("BTCUSDT",), ("ETHUSDT", "short")]
    first = snap(1.0, *specs)
    tracker.observe(first, CFG)
    assert "positions_seen" in tracker.meta(first)
    for t in (2.0, 3.0, 4.0):
        again = snap(t, *specs)
        tracker.observe(again, CFG)
        assert tracker.pending == []
        assert "positions_seen" not in tracker.meta(again), "nothing that matters changed"
    moved = snap(5.0, ("BTCUSDT", "long", "1", "91"), ("ETHUSDT", "short"))
    tracker.observe(moved, CFG)
    assert tracker.pending == [] and "positions_seen" in tracker.meta(moved)


def test_a_shrink_or_a_vanish_among_fresh_positions_of_the_same_count_is_noticed():
    tracker = EventTracker()
    tracker.observe(snap(1.0, ("BTCUSDT",), ("ETHUSDT", "short")), CFG)
    tracker.observe(snap(2.0, ("BTCUSDT", "long", "0.4"), ("ETHUSDT", "short")), CFG)
    assert [(c.symbol, c.size_after) for c in tracker.pending] == [("BTCUSDT", Decimal("0.4"))]
    tracker = EventTracker()
    tracker.observe(snap(1.0, ("BTCUSDT",), ("ETHUSDT", "short")), CFG)
    tracker.observe(snap(2.0, ("BTCUSDT",), ("SOLUSDT", "short")), CFG)  # one went, one came
    assert [(c.symbol, c.vanished) for c in tracker.pending] == [("ETHUSDT", True)]


def test_the_same_positions_in_another_order_are_no_change():
    before = snap(1.0, ("BTCUSDT",), ("ETHUSDT", "short"))
    assert events.detect(before, snap(2.0, ("ETHUSDT", "short"), ("BTCUSDT",))) == []


def test_carry_keeps_what_a_partial_or_unreadable_read_did_not_list_and_nothing_else():
    before = snap(1.0, ("BTCUSDT",), ("ETHUSDT", "short"))
    whole = snap(2.0, ("ETHUSDT", "short"))
    assert events.carry(before, whole) is whole
    unreadable = snap(2.0, ("ETHUSDT", "short"), unreadable=[(PT, "BTCUSDT")])
    kept = events.carry(before, unreadable)
    assert [p.symbol for p in kept.positions] == ["ETHUSDT", "BTCUSDT"] and kept.taken_at == 1.0
    other = snap(2.0, ("ETHUSDT", "short"), fetched=("COIN-FUTURES",))
    assert [p.symbol for p in events.carry(before, other).positions] == ["ETHUSDT", "BTCUSDT"]
