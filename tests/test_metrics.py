"""The metric catalogue (DESIGN section 3), table-driven: one row per metric and case."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from riskwatch.core import metrics
from riskwatch.model import UNIFIED, Account, Position


def pos(**kw: object) -> Position:
    base: dict[str, object] = dict(
        product_type="USDT-FUTURES",
        symbol="BTCUSDT",
        side="long",
        margin_coin="USDT",
        total=D("2"),
        mark_price=D("100"),
        liquidation_price=D("90"),
        leverage=D("10"),
    )
    base.update(kw)
    return Position(**base)  # type: ignore[arg-type]


def value(name: str, item: Position | Account) -> float | None:
    m = metrics.lookup("position" if isinstance(item, Position) else "account", name)
    assert m is not None, name
    return m.fn(item)


POSITION_CASES = [
    # (metric, position, expected)
    ("liq_gap_pct", pos(side="long", mark_price=D("100"), liquidation_price=D("90")), 10.0),
    ("liq_gap_pct", pos(side="short", mark_price=D("100"), liquidation_price=D("110")), 10.0),
    ("liq_gap_pct", pos(side="long", mark_price=D("100"), liquidation_price=D("101")), -1.0),
    ("liq_gap_pct", pos(side="short", mark_price=D("100"), liquidation_price=D("99")), -1.0),
    ("liq_gap_pct", pos(liquidation_price=None), None),
    ("liq_gap_pct", pos(liquidation_price=D("0")), None),
    ("liq_gap_pct", pos(liquidation_price=D("-9880613.76")), None),
    ("liq_gap_pct", pos(mark_price=D("0")), None),
    # the fixtures' expected gaps (shared/bitget/fixtures/README.md)
    (
        "liq_gap_pct",
        pos(side="short", mark_price=D("93203.4"), liquidation_price=D("99817.41")),
        pytest.approx(7.0963, abs=1e-4),
    ),
    (
        "liq_gap_pct",
        pos(side="long", mark_price=D("2512.5"), liquidation_price=D("2265.3")),
        pytest.approx(9.8388, abs=1e-4),
    ),
    (
        "liq_gap_pct",
        pos(side="short", mark_price=D("28038.69"), liquidation_price=D("30601.2")),
        pytest.approx(9.1392, abs=1e-4),
    ),
    ("notional", pos(total=D("0.5"), mark_price=D("200")), 100.0),
    ("unrealizedPLR", pos(unrealized_plr=D("-0.25")), -0.25),
    ("unrealizedPLR", pos(unrealized_pl=D("-50"), margin=D("100")), -0.5),  # v2: derived
    ("unrealizedPLR", pos(unrealized_pl=D("-50"), margin=D("0")), None),
    ("unrealizedPLR", pos(unrealized_pl=None, margin=D("100")), None),
    ("unrealizedPLR", pos(unrealized_plr=D("0.1"), unrealized_pl=D("-50"), margin=D("100")), 0.1),
    ("keepMarginRate", pos(keep_margin_rate=D("0.004")), 0.004),
    ("keepMarginRate", pos(), None),
    ("marginRatio", pos(margin_ratio=D("0.0028")), 0.0028),
    ("marginRatio", pos(), None),
    ("leverage", pos(leverage=D("14")), 14.0),
    ("unrealizedPL", pos(unrealized_pl=D("-72.82")), -72.82),
    ("margin", pos(margin=D("103.18")), 103.18),
    ("total", pos(total=D("0.0155")), 0.0155),
    ("markPrice", pos(mark_price=D("93203.4")), 93203.4),
    ("liquidationPrice", pos(liquidation_price=D("99817.41")), 99817.41),
    ("liquidationPrice", pos(liquidation_price=D("-5")), None),
    ("liquidationPrice", pos(liquidation_price=None), None),
    ("averageOpenPrice", pos(average_open_price=D("88505.23")), 88505.23),
    ("breakEvenPrice", pos(break_even_price=D("85283.06")), 85283.06),
]


@pytest.mark.parametrize(("name", "position", "expected"), POSITION_CASES)
def test_position_metric(name: str, position: Position, expected: object) -> None:
    assert value(name, position) == expected


ACCOUNT = Account(
    product_type="USDT-FUTURES",
    margin_coin="USDT",
    account_equity=D("10582.90"),
    available=D("10575.26"),
    locked=D("0"),
    crossed_max_available=D("10580.56"),
    isolated_max_available=D("10580.50"),
    max_transfer_out=D("10572.92"),
    crossed_risk_rate=D("0.12"),
    unrealized_pl=D("7.7"),
    usdt_equity=D("10582.90"),
    btc_equity=D("0.2048"),
)
UNIFIED_ACCOUNT = Account(
    product_type=UNIFIED,
    margin_coin="USDT",
    eff_equity=D("900"),
    mgn_ratio=D("0.3"),
    imr=D("0.1"),
    mmr=D("0.05"),
    position_mgn_ratio=D("0.2"),
)


@pytest.mark.parametrize(
    ("name", "account", "expected"),
    [
        ("crossedRiskRate", ACCOUNT, 0.12),
        ("accountEquity", ACCOUNT, 10582.90),
        ("available", ACCOUNT, 10575.26),
        ("locked", ACCOUNT, 0.0),
        ("crossedMaxAvailable", ACCOUNT, 10580.56),
        ("isolatedMaxAvailable", ACCOUNT, 10580.50),
        ("maxTransferOut", ACCOUNT, 10572.92),
        ("unrealizedPL", ACCOUNT, 7.7),
        ("usdtEquity", ACCOUNT, 10582.90),
        ("btcEquity", ACCOUNT, 0.2048),
        ("effEquity", ACCOUNT, None),
        ("effEquity", UNIFIED_ACCOUNT, 900.0),
        ("mgnRatio", UNIFIED_ACCOUNT, 0.3),
        ("imr", UNIFIED_ACCOUNT, 0.1),
        ("mmr", UNIFIED_ACCOUNT, 0.05),
        ("positionMgnRatio", UNIFIED_ACCOUNT, 0.2),
        ("crossedRiskRate", UNIFIED_ACCOUNT, None),
    ],
)
def test_account_metric(name: str, account: Account, expected: float | None) -> None:
    assert value(name, account) == expected


def test_value_vectors_follow_the_catalogue_order() -> None:
    p = pos(unrealized_pl=D("-50"), margin=D("100"))
    values = dict(zip(metrics.POSITION_METRICS, metrics.position_values(p), strict=True))
    assert values["liq_gap_pct"] == 10.0
    assert values["unrealizedPLR"] == -0.5
    assert values["notional"] == 200.0
    accounts = dict(zip(metrics.ACCOUNT_METRICS, metrics.account_values(ACCOUNT), strict=True))
    assert accounts["crossedRiskRate"] == 0.12


def test_catalogue_names_are_unique_per_scope_and_documented() -> None:
    for scope in ("position", "account"):
        names = [m.name for m in metrics.CATALOGUE if m.scope == scope]
        assert len(names) == len(set(names))
    assert all(m.doc for m in metrics.CATALOGUE)
    assert metrics.lookup("position", "crossedRiskRate") is None
    assert metrics.lookup("account", "crossedRiskRate") is not None
