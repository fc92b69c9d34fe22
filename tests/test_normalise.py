"""Normalisation of Bitget rows against the fixtures (expected gaps in fixtures/README.md)."""

from __future__ import annotations

import json
import logging
from dataclasses import fields
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskwatch.core import metrics
from riskwatch.errors import TransientError
from riskwatch.exchange.normalise import accounts as normalise_accounts
from riskwatch.exchange.normalise import positions as normalise
from riskwatch.model import UNIFIED, Position

FIX = Path(__file__).parent / "fixtures" / "bitget"
PT = "USDT-FUTURES"


def _data(name: str):
    return json.loads((FIX / name).read_text())["data"]


def _recorded(description: str):
    entries = json.loads((FIX / "recorded.json").read_text())["entries"]
    return next(e["httpResponse"]["data"] for e in entries if e["description"] == description)


def _gaps(ps):
    return {(p.symbol, p.side): metrics.liq_gap_pct(p) for p in ps}


def test_v2_fixture_gaps_and_fields() -> None:
    ps, warnings = normalise.positions("v2", _data("v2_all_position.json"), PT, "/e")
    assert warnings == []
    gaps = _gaps(ps)
    # Bitget's own example: a crossed short in union mode, its liquidation price 61x the mark.
    assert f"{gaps['BTCUSDT', 'short']:.2f}" == "6056.29"
    assert f"{gaps['ETHUSDT', 'long']:.2f}" == "9.84"
    assert gaps["SOLUSDT", "long"] is None
    btc = ps[0]
    assert btc.mark_price == Decimal("93203.4") and btc.leverage == Decimal(14)
    assert btc.unrealized_plr == Decimal("-72.8215833333333385") / Decimal("103.1894785714285715")
    assert btc.margin_ratio == Decimal("0.0028541392311979")
    assert ps[1].leverage == Decimal(10)  # a JSON number


def test_v1_fixture_drops_zero_legs_maps_market_price_and_bare_symbol() -> None:
    ps, warnings = normalise.positions("v1", _data("v1_allPosition-v2.json"), PT, "/e")
    assert warnings == []
    assert [(p.symbol, p.side) for p in ps] == [("BTCUSDT", "short")]
    assert f"{metrics.liq_gap_pct(ps[0]):.2f}" == "9.14"
    assert ps[0].mark_price == Decimal("28038.69")
    assert ps[0].unrealized_plr == Decimal("-0.01255")
    assert ps[0].product_type == PT


def test_v3_recorded_rows() -> None:
    rows = normalise.v3_rows(_recorded("uta fetchPosition"), "/e")
    ps, warnings = normalise.positions("v3", rows, PT, "/e")
    assert not warnings and len(ps) == 1
    p = ps[0]
    assert (p.symbol, p.side, p.margin) == ("BTCUSDT", "long", Decimal("5.435199"))
    assert p.liquidation_price is None  # "0"
    assert p.keep_margin_rate == Decimal("0.004")
    assert p.unrealized_plr == Decimal("0.0008647337475591")
    assert p.unrealized_pl == Decimal("0.0047")


def test_v3_null_list_is_no_positions_and_bad_envelope_is_transient() -> None:
    assert normalise.v3_rows({"list": None}, "/e") == []
    with pytest.raises(TransientError, match="/api/v3/x"):
        normalise.v3_rows([], "/api/v3/x")
    with pytest.raises(TransientError, match="/api/v2/y"):
        normalise.positions("v2", {"list": []}, PT, "/api/v2/y")


def test_v3_profit_rate_missing_is_derived() -> None:
    row = dict(normalise.v3_rows(_recorded("uta fetchPosition"), "/e")[0], profitRate="")
    (p,), _ = normalise.positions("v3", [row], PT, "/e")
    assert p.unrealized_plr == Decimal("0.0047") / Decimal("5.435199")


@pytest.mark.parametrize("liq", ["0", "", None, "-9880613.76", -5])
def test_no_liquidation_price_forms(liq) -> None:
    row = dict(_data("v2_all_position.json")[1], liquidationPrice=liq)
    (p,), warnings = normalise.positions("v2", [row], PT, "/e")
    assert p.liquidation_price is None and warnings == []


def test_v2_margin_zero_gives_no_plr() -> None:
    row = dict(_data("v2_all_position.json")[1], marginSize="0")
    (p,), _ = normalise.positions("v2", [row], PT, "/e")
    assert p.unrealized_plr is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("markPrice", "abc"),
        ("markPrice", None),
        ("total", "x"),
        ("holdSide", "sideways"),
        ("leverage", None),
        ("marginSize", "n/a"),
        ("markPrice", "0"),
    ],
)
def test_malformed_row_skipped_with_one_warning_naming_symbol_and_field(
    field, value, caplog
) -> None:
    rows = _data("v2_all_position.json")
    rows[0] = dict(rows[0], **{field: value})
    with caplog.at_level(logging.WARNING, logger="riskwatch.exchange"):
        ps, warnings = normalise.positions("v2", rows, PT, "/api/v2/mix/position/all-position")
    assert [p.symbol for p in ps] == ["ETHUSDT", "SOLUSDT"]
    assert len(warnings) == 1
    assert "BTCUSDT" in warnings[0] and field in warnings[0]
    assert "/api/v2/mix/position/all-position" in warnings[0]
    assert not caplog.records  # said once by the client, which remembers what it said


def _live_row(shape: str) -> dict:
    """One row of ``shape`` that normalises to a position as it stands."""
    if shape == "v1":
        return dict(_data("v1_allPosition-v2.json")[1])
    if shape == "v3":
        return dict(normalise.v3_rows(_recorded("uta fetchPosition"), "/e")[0])
    return dict(_data("v2_all_position.json")[0])


@pytest.mark.parametrize("shape", ["v1", "v2", "v3"])
@pytest.mark.parametrize("field", ["symbol", "marginCoin"])
@pytest.mark.parametrize("value", [None, 123, "", ["BTCUSDT"]])
def test_non_string_or_empty_symbol_or_coin_skipped_with_one_warning_naming_it(
    shape, field, value, caplog
) -> None:
    good = _live_row(shape)
    assert len(normalise.positions(shape, [good], PT, "/e")[0]) == 1
    bad = dict(good, **{field: value})
    with caplog.at_level(logging.WARNING, logger="riskwatch.exchange"):
        ps, warnings = normalise.positions(shape, [bad, good], PT, "/e")
    assert len(ps) == 1 and isinstance(ps[0].symbol, str) and ps[0].symbol
    assert len(warnings) == 1 and f"{field} is missing or not valid" in warnings[0]
    assert not caplog.records  # said once by the client, which remembers what it said


def test_v1_symbol_that_is_only_a_suffix_is_skipped() -> None:
    ps, warnings = normalise.positions("v1", [dict(_live_row("v1"), symbol="_UMCBL")], PT, "/e")
    assert ps == [] and len(warnings) == 1


def test_unknown_fields_ignored_and_non_object_row_skipped() -> None:
    row = dict(_data("v2_all_position.json")[1], brandNewField={"x": 1})
    ps, warnings = normalise.positions("v2", [row, "junk"], PT, "/e")
    assert len(ps) == 1 and len(warnings) == 1 and "?" in warnings[0]


def test_fast_constructor_equals_dataclass_init() -> None:
    (p,), _ = normalise.positions("v2", [_data("v2_all_position.json")[0]], PT, "/e")
    rebuilt = Position(**{f.name: getattr(p, f.name) for f in fields(Position)})
    assert p == rebuilt and hash(p) == hash(rebuilt) and repr(p) == repr(rebuilt)


def test_v2_and_v1_accounts() -> None:
    (a,), _ = normalise_accounts.accounts("v2", _data("v2_accounts.json"), PT, "/e")
    assert a.crossed_risk_rate == Decimal("0.0412") and a.account_equity == Decimal(
        "10582.90265771"
    )
    assert a.product_type == PT and a.margin_coin == "USDT"
    (b,), _ = normalise_accounts.accounts("v1", _data("v1_accounts.json"), PT, "/e")
    assert b.account_equity == Decimal("10582.90265771")
    assert b.crossed_risk_rate == Decimal(0)
    assert b.crossed_max_available == Decimal("10580.56434289")
    assert b.unrealized_pl is None


def test_v3_unified_account() -> None:
    a, warnings = normalise_accounts.account_v3(_recorded("Fetch the uta balance"), "USDT", "/e")
    assert not warnings
    assert a.product_type == UNIFIED and a.margin_coin == "USDT"
    assert a.available == Decimal("10000") and a.eff_equity == Decimal("256783.39028097")
    assert a.crossed_risk_rate == a.mgn_ratio == Decimal(0)
    assert a.usdt_equity == Decimal("368319.08928405")


def test_v3_risk_rate_is_mmr_over_eff_equity_and_mgn_ratio_its_own() -> None:
    data = dict(_recorded("Fetch the uta balance"), mmr="1283.91695140", mgnRatio="0.7")
    a, _ = normalise_accounts.account_v3(data, "USDT", "/e")
    assert a.crossed_risk_rate == Decimal("0.005")  # 1283.9169514 / 256783.39028097
    assert a.mgn_ratio == Decimal("0.7")
    broke, _ = normalise_accounts.account_v3(dict(data, effEquity="0"), "USDT", "/e")  # past liq
    assert broke.crossed_risk_rate == Decimal(1) and broke.mmr == Decimal("1283.91695140")


def test_v2_union_mode_rows_carry_the_account_figures(caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="riskwatch.exchange"):
        (usdt, btc), warnings = normalise_accounts.accounts(
            "v2", _data("v2_accounts_union.json"), PT, "/e"
        )
    assert usdt.asset_mode == btc.asset_mode == "union"
    assert usdt.union_available == Decimal("1111.1") and usdt.union_mm == Decimal("111")
    # The docs' own "111,1" is not a number: that one figure is dropped with one warning.
    assert usdt.union_total_margin is None and warnings == [
        "/e: USDT account: unionTotalMagin is not a number; ignored"
    ]
    assert btc.union_total_margin == Decimal("1111.1") and btc.account_equity < 0
    single, _ = normalise_accounts.accounts("v2", _data("v2_accounts.json"), PT, "/e")
    assert single[0].asset_mode is None and single[0].union_mm is None
    spelled = dict(_data("v2_accounts_union.json")[1], unionTotalMagin=None)
    spelled["unionTotalMargin"] = "99"
    ((fixed,), _) = normalise_accounts.accounts("v2", [spelled], PT, "/e")
    assert fixed.union_total_margin == Decimal("99")  # the corrected spelling, where sent


def test_v3_coin_m_symbol_is_bare_and_sized_in_usd() -> None:
    row = dict(_live_row("v3"), category="COIN-FUTURES", symbol="BTCUSD_CM", total="500")
    row["marginCoin"] = "BTC"
    (p,), _ = normalise.positions("v3", [row], "COIN-FUTURES", "/e")
    assert p.symbol == "BTCUSD" and p.size_in_usd and p.product_type == "COIN-FUTURES"
    assert metrics.notional(p) == 500.0
    (linear,), _ = normalise.positions("v3", [_live_row("v3")], PT, "/e")
    assert not linear.size_in_usd
    assert metrics.notional(linear) == float(linear.total * linear.mark_price)


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "symbol",
                "holdSide",
                "marginCoin",
                "total",
                "markPrice",
                "leverage",
                "liquidationPrice",
                "marginSize",
                "unrealizedPL",
            ]
        ),
        st.one_of(st.none(), st.text(max_size=6), st.integers(), st.floats(allow_nan=True)),
    )
)
def test_any_row_either_normalises_or_warns_never_raises(row) -> None:
    ps, warnings = normalise.positions("v2", [row], PT, "/e")
    assert len(ps) + len(warnings) <= 1
    for p in ps:
        assert p.total != 0 and p.mark_price > 0
