"""Events (DESIGN section 10), the pure part: which fills say what, and how it reads."""

from __future__ import annotations

from decimal import Decimal

import pytest

from riskwatch.core import events, pending
from riskwatch.model import Fill, Position, Snapshot
from riskwatch.render import events as render_events
from riskwatch.render import lines

PT = "USDT-FUTURES"


def pos(symbol="BTCUSDT", side="long", total="0.5", liq="90000", mark="93500") -> Position:
    return Position(
        product_type=PT,
        symbol=symbol,
        side=side,  # type: ignore[arg-type]
        margin_coin="USDT",
        total=Decimal(total),
        mark_price=Decimal(mark),
        liquidation_price=None if liq is None else Decimal(liq),
        leverage=Decimal(10),
    )


def snap(t: float, *positions: Position, fetched=(PT,)) -> Snapshot:
    return Snapshot(taken_at=t, positions=positions, fetched=frozenset(fetched))


def fill(trade_side: str, *, size="0.5", price="89950", profit="-4512", at=105.0, symbol="BTCUSDT"):
    return Fill(PT, symbol, trade_side, "sell", Decimal(price), Decimal(size),
                Decimal(profit) if profit is not None else None, at)  # fmt: skip


def change(total_after="0", **kw) -> events.Change:
    before = snap(100.0, pos(**kw))
    now = {**kw, "total": total_after}
    after = snap(110.0) if total_after == "0" else snap(110.0, pos(**now))
    (c,) = events.detect(before, after, lambda p: ["phone"])
    return c


@pytest.mark.parametrize(
    ("trade_side", "kind"),
    [
        ("burst_close_long", "liquidated"),
        ("burst_sell_single", "liquidated"),  # one-way mode
        ("reduce_close_long", "liquidated"),  # forced reductions that took all of it
        ("offset_close_long", "force-netted"),
        ("dte_sys_adl_close_long", "auto-deleveraged"),
        ("dte_sys_adl_sell_in_single_side_mode", "auto-deleveraged"),
        ("delivery_close_long", "delivered"),
        ("delivery_sell_single", "delivered"),
        ("close", "closed"),
        ("sell_single", "closed"),
        ("liquidation", "liquidated"),  # v3: the order's execType
    ],
)
def test_a_vanished_long_is_classified_by_the_fills_trade_side(trade_side, kind):
    event = events.decide(change(), [fill(trade_side)], now=120.0)
    assert event is not None and event.kind == kind
    assert (event.size, event.price, event.realized) == (Decimal("0.5"), 89950, -4512)


def test_an_opening_fill_says_nothing_of_why_a_position_went():
    """Hedge mode: the trader opened the other leg; the burst fill is not visible yet."""
    c = change()
    assert events.decide(c, [fill("open")], 120.0) is None, "wait for the reason"
    event = events.decide(c, [fill("open"), fill("burst_close_long")], 120.0)
    assert event is not None and event.kind == "liquidated"


def test_fills_of_the_other_side_or_from_before_the_last_sighting_do_not_count():
    c = change()
    other_side = fill("burst_close_short")
    one_way_other = fill("burst_buy_single")
    too_old = fill("burst_close_long", at=50.0)
    other_symbol = fill("burst_close_long", symbol="ETHUSDT")
    assert events.decide(c, [other_side, one_way_other, too_old, other_symbol], 120.0) is None
    trader = fill("close", at=101.0)
    assert events.decide(c, [too_old, trader], 120.0).kind == "closed"  # type: ignore[union-attr]


def test_a_shrink_by_force_is_a_partial_liquidation_and_by_the_trader_no_line():
    c = change(total_after="4", total="10", symbol="SOLUSDT", liq="140", mark="146")
    assert not c.vanished and c.size_before - c.size_after == 6
    forced = events.decide(c, [fill("reduce_close_long", size="6", price="145", profit=None,
                                    symbol="SOLUSDT")], 120.0)  # fmt: skip
    assert forced is not None and forced.kind == "partially-liquidated"
    t = events.event_transition(forced)
    assert t is not None and t.severity == "critical"
    assert (
        render_events.line(t) == "PARTIALLY LIQUIDATED SOLUSDT long: 6 of 10 force-reduced at 145"
    )
    own = events.decide(c, [fill("close", size="6", symbol="SOLUSDT")], 120.0)
    assert own is not None and own.kind == "closed" and events.event_transition(own) is None


def test_the_liquidated_line_reads_as_the_design_says():
    event = events.decide(change(), [fill("burst_close_long")], 120.0)
    t = events.event_transition(event)  # type: ignore[arg-type]
    assert t is not None and (t.kind, t.severity, t.channels) == ("event", "critical", ("phone",))
    assert render_events.line(t) == (
        "LIQUIDATED BTCUSDT long: 0.5 closed at 89,950 (liq was 90,000), realized -4,512 USDT"
    )
    delivered = events.decide(change(), [fill("delivery_close_long", profit="12.5")], 120.0)
    d = events.event_transition(delivered)  # type: ignore[arg-type]
    assert d is not None and d.severity == "warning"
    assert (
        render_events.line(d)
        == "DELIVERED BTCUSDT long: 0.5 delivered at 89,950, realized +12.5 USDT"
    )


def test_unreadable_fills_wait_then_say_reason_unknown():
    c = change()
    for _ in range(events.MAX_ATTEMPTS - 1):
        assert events.decide(c, None, 120.0) is None
        c = events.retry(c)
    event = events.decide(c, None, 130.0)
    assert event is not None and (event.kind, event.why) == ("unknown", "fills unavailable")
    t = events.event_transition(event)
    assert t is not None and t.severity == "critical"
    assert render_events.line(t) == (
        "CLOSED? BTCUSDT long: 0.5 closed (reason unknown: fills unavailable) (liq was 90,000)"
    )


def test_nothing_changes_on_a_quiet_cycle_and_a_partial_fetch_closes_nothing():
    before = snap(100.0, pos(), pos("ETHUSDT", "short"))
    assert events.detect(before, snap(110.0, pos(), pos("ETHUSDT", "short"))) == []
    assert events.detect(before, snap(110.0, pos(total="0.7"), pos("ETHUSDT", "short"))) == []
    assert events.detect(before, snap(110.0, fetched=())) == []  # the list was not read whole
    assert events.detect(None, snap(110.0)) == []


def test_pending_changes_survive_their_plain_form_exactly():
    c = events.retry(change())
    assert pending.from_plain(pending.to_plain([c])) == [c]
    assert pending.from_plain([{"symbol": "x"}, "junk"]) == []


def test_render_and_core_agree_on_the_words_that_end_an_alert():
    assert render_events.ENDED_REASONS == events.FORCED_REASONS


def test_amounts_have_thousands_separators():
    assert [render_events.amount(v) for v in (89950.0, -4512.37, 0.5, 1234567, "x")] == [
        "89,950", "-4,512.37", "0.5", "1,234,567", "x"
    ]  # fmt: skip


def test_an_event_line_ends_with_the_time_it_was_seen_like_every_line():
    event = events.decide(change(), [fill("burst_close_long")], 120.0)
    t = events.event_transition(event)  # type: ignore[arg-type]
    assert t is not None
    assert lines.line(t) == render_events.line(t) + " [00:02:00 UTC]"
    assert lines.notify_type([t]) == "failure"


def test_adl_rank_is_in_the_catalogue_and_the_schema():
    from riskwatch.config import schema
    from riskwatch.core import metrics

    assert metrics.lookup("position", "adlRank") is not None
    assert "adlRank" in str(schema.json_schema())


def test_a_position_missing_from_a_partial_read_is_still_noticed_when_it_vanishes_later():
    first = snap(100.0, pos(), pos("ETHUSDT", "short"))
    partial = snap(110.0, pos("ETHUSDT", "short"), fetched=())  # BTCUSDT's row was skipped
    assert events.detect(first, partial) == []
    basis = events.carry(first, partial)
    assert {p.symbol for p in basis.positions} == {"BTCUSDT", "ETHUSDT"}
    assert basis.taken_at == 100.0, "fills from the older sighting"
    (gone,) = events.detect(basis, snap(120.0, pos("ETHUSDT", "short")))
    assert (gone.symbol, gone.vanished, gone.since) == ("BTCUSDT", True, 100.0)


def test_ended_alerts_follow_send_resolved_but_the_event_line_always_goes():
    from riskwatch.model import AlertState, Defaults, Rule

    event = events.decide(change(), [fill("burst_close_long")], 120.0)
    assert event is not None
    firing = AlertState(("loud", PT, "BTCUSDT", "long", "default"), "firing", "critical", 1, 3)
    quiet = AlertState(("quiet", PT, "BTCUSDT", "long", "default"), "firing", "warning", 1, 3)
    waiting = AlertState(("loud", PT, "ETHUSDT", "short", "default"), "pending", "warning", 1, 3)
    rules = (
        Rule(name="loud", metric="liq_gap_pct", op="<", warning=8),
        Rule(name="quiet", metric="liq_gap_pct", op="<", warning=8, send_resolved=False),
    )
    state = {s.key: s for s in (firing, quiet, waiting)}
    ended, left = events.end_alerts(state, event, rules, Defaults(channels=("phone",)), 120.0)
    assert [(t.rule, t.reason) for t in ended] == [("loud", "liquidated")]
    assert list(left) == [waiting.key], "the other position's alert stays"
    assert events.event_transition(event) is not None


def test_events_go_to_the_critical_channels_of_the_matching_rules_else_the_defaults(tmp_path):
    from riskwatch.config import load as config
    from riskwatch.core import engine

    path = tmp_path / "rules.yaml"
    path.write_text(
        "channels: {phone: ['console://'], pager: ['console://stderr'], ops: ['console://']}\n"
        "defaults:\n  channels: {warning: [phone], critical: [ops]}\n"
        "rules:\n"
        "  - {name: a, metric: liq_gap_pct, op: '<', warning: 8, match: {symbol: 'BTC*'},\n"
        "     channels: {warning: [phone], critical: [pager]}}\n"
        "  - {name: b, metric: liq_gap_pct, op: '<', warning: 8, match: {symbol: 'ETH*'},\n"
        "     channels: {critical: [pager]}}\n"
    )
    cfg = config.load(str(path))
    route = events.channels_for(cfg.rules, cfg.defaults, engine.matches)
    assert route(pos()) == ["pager"], "a liquidation pages, as the rule's criticals do"
    assert route(pos(symbol="ETHUSDT")) == ["pager"]
    assert route(pos(symbol="SOLUSDT")) == ["ops"], "no rule: the defaults' critical channels"
