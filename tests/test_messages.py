"""Messages a trader can act on (DESIGN 11): words, time stamps, late prefix, notify_type."""

from __future__ import annotations

import zoneinfo
from decimal import Decimal as D

import pytest

from riskwatch.config import load as config
from riskwatch.delivery.workers import Deliverer, RetryPolicy, routes
from riskwatch.errors import ConfigError
from riskwatch.model import Channel, Config, Message
from riskwatch.render import lines as render
from riskwatch.render import words
from riskwatch.store import history
from tests.engine_support import Run, gap_rule, pos, snap

FAST = RetryPolicy(initial=0.01, max_wait=0.02, jitter=0.0)
AT = 1_764_597_801.0  # 2025-12-01 14:03:21 UTC


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (93500, "93,500"),
        (93203.4, "93,203.4"),
        (-4512.25, "-4,512.25"),
        (999, "999"),
        (0.00001234, "0.00001234"),
        (1234567.891, "1,234,567.891"),
        (None, "none"),
    ],
)
def test_numbers_have_thousands_separators(value, text) -> None:
    assert words.grouped(value) == text


def test_plurals_and_spans() -> None:
    assert [words.plural(n, "channel") for n in (0, 1, 2)] == [
        "0 channels",
        "1 channel",
        "2 channels",
    ]
    assert words.span(252) == "4m12s"
    assert words.span(3725) == "1h2m5s"
    assert words.span(90061) == "1d1h1m"


def test_time_stamp_in_utc_and_in_a_zone() -> None:
    assert words.stamp(AT) == "[14:03:21 UTC]"
    assert words.stamp(AT, zoneinfo.ZoneInfo("Europe/Berlin")) == "[15:03:21 CET]"
    assert words.stamp(AT + 200 * 86400, zoneinfo.ZoneInfo("Europe/Berlin")).endswith("CEST]")


def test_late_prefix_only_past_late_after() -> None:
    assert words.late_prefix(1000.0, 1060.0, 60.0) == ""
    assert words.late_prefix(1000.0, 1252.0, 60.0) == "(delayed 4m12s) "
    assert words.late_prefix(1000.0, 9999.0, 0.0) == ""  # 0: never said


def test_line_ends_with_the_engine_time_in_the_configured_zone() -> None:
    run = Run(gap_rule())
    (t,) = run.cycle(AT, snap(pos("BTCUSDT", gap=3.7)))
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    assert render.line(t).endswith(" [14:03:21 UTC]")
    assert render.line(t, berlin).endswith(" [15:03:21 CET]")


def test_design_example_line() -> None:
    rule = gap_rule(name="near-liquidation", warning=8.0, critical=4.0)
    run = Run(rule)
    p = pos("BTCUSDT", mark_price=D("93500"), liquidation_price=D("90000"))
    (t,) = run.cycle(AT, snap(p))
    assert render.line(t) == (
        "CRITICAL near-liquidation BTCUSDT long: 3.74% from liquidation (below 4%); "
        "mark 93,500, liq 90,000 [14:03:21 UTC]"
    )


def test_notify_type_by_severity() -> None:
    run = Run(gap_rule())
    (warn,) = run.cycle(0, snap(pos("A", 10)))
    (crit,) = run.cycle(10, snap(pos("A", 3)))
    (res,) = run.cycle(20, snap(pos("A", 30)))
    assert render.notify_type([warn]) == "warning"
    assert render.notify_type([warn, crit]) == "failure"
    assert render.notify_type([res]) == "success"
    assert render.notify_type([warn, res]) == "warning"
    ((_, msg),) = render.messages_for([crit, res], {"phone": ["d"]}, 20.0)
    assert msg.notify_type == "failure"


def _cfg(state_dir: str, url: str, late_after: float = 60.0) -> Config:
    return Config(
        path="r", state_dir=state_dir, late_after=late_after, channels=(Channel("phone", (url,)),)
    )


def test_the_service_is_told_the_severity(store, rx) -> None:
    cfg = _cfg(store.path, rx.url)
    (dest,) = routes(cfg)["phone"]
    crit = Message("phone", "riskwatch: 1 critical", "CRITICAL x", 1000.0, notify_type="failure")
    store.commit_cycle({}, [(dest, crit)])
    Deliverer(cfg, store, policy=FAST, clock=lambda: 1001.0).deliver_all_once()
    (got,) = rx.received
    assert got.payload["type"] == "failure"
    assert got.body == "CRITICAL x"  # on time: no prefix


def test_a_late_message_says_how_late_and_the_history_says_it_arrived(store, rx) -> None:
    cfg = _cfg(store.path, rx.url)
    (dest,) = routes(cfg)["phone"]
    store.commit_cycle({}, [(dest, Message("phone", "riskwatch: 1 warning", "WARNING x", 1000.0))])
    rx.fail(2, status=500)
    Deliverer(cfg, store, policy=FAST, clock=lambda: 1252.0).deliver_all_once()
    assert rx.bodies() == ["(delayed 4m12s) WARNING x"]
    (rec,) = store.read_history(0)
    assert (rec.kind, rec.attempts, rec.channel, rec.dest_key) == (
        history.DELIVERED,
        3,
        "phone",
        dest,
    )
    assert rec.queued_at == 1000.0 and rec.seconds == 252.0
    assert rx.url not in repr(rec)


def test_timezone_is_checked(tmp_path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("timezone: Europe/Berlin\nlate_after: 2m\nhistory_keep: 7d\n")
    cfg = config.load(str(good))
    assert (cfg.timezone, cfg.late_after, cfg.history_keep) == ("Europe/Berlin", 120.0, 7 * 86400.0)
    bad = tmp_path / "bad.yaml"
    bad.write_text("timezone: Mars/Olympus\n")
    with pytest.raises(ConfigError) as err:
        config.load(str(bad))
    assert err.value.problems[0].startswith(f"{bad}:1:11: timezone: 'Mars/Olympus' is not an IANA")


def test_history_is_written_and_pruned_in_the_cycle_transaction(store) -> None:
    from riskwatch.service.journal import journal

    run = Run(gap_rule())
    out = run.cycle(AT, snap(pos("BTCUSDT", 10)))
    lines = render.lines_of(out)
    store.commit_cycle(run.state, records=journal(out, lines), forget_before=0.0)
    (rec,) = store.read_history(0)
    assert (rec.kind, rec.rule, rec.subject, rec.side, rec.severity, rec.what) == (
        "line",
        "near",
        "BTCUSDT",
        "long",
        "warning",
        "firing",
    )
    assert rec.text == lines[0] and rec.at == AT
    store.commit_cycle(run.state, forget_before=AT + 1)  # older than history_keep: gone
    assert store.read_history(0) == []


def test_info_log_says_each_transition_and_each_delivery_without_a_token(store, rx, caplog):
    import logging

    from riskwatch.service.journal import journal

    url = rx.url.replace("json://", "json://alice:s3cretPASS@")
    cfg = _cfg(store.path, url)
    run = Run(gap_rule())
    out = run.cycle(AT, snap(pos("BTCUSDT", 10)))
    caplog.set_level(logging.INFO, logger="riskwatch")
    lines = render.lines_of(out)
    (dest,) = routes(cfg)["phone"]
    ((_, msg),) = render.messages_for(out, {"phone": [dest]}, AT, rendered=lines)
    store.commit_cycle(run.state, [(dest, msg)], records=journal(out, lines))
    rx.fail(1, status=500)
    Deliverer(cfg, store, policy=FAST, clock=lambda: AT + 3).deliver_all_once()
    said = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert f"firing to phone: {lines[0]}" in said
    (delivered,) = [m for m in said if "delivered" in m]
    assert delivered.startswith("channel phone json://alice:")
    assert "'riskwatch: 1 warning' after 2 attempts, 3.0 s after it was queued" in delivered
    assert "s3cretPASS" not in caplog.text
