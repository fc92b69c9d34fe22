"""What a snapshot says was read whole, over real HTTP: only that may close alerts (DESIGN 8,
closed versus missing). A failed accounts call or a skipped malformed row closes nothing."""

from __future__ import annotations

import pytest

from riskwatch.exchange.fake.server import FakeBitget
from riskwatch.model import UNIFIED
from tests.exchange_support import client

PT = "USDT-FUTURES"


@pytest.fixture
def fx():
    with FakeBitget() as fake:
        fake.add_position("BTCUSDT", "long", mark="100", liquidation="90")
        yield fake


def test_a_whole_read_names_positions_and_accounts(fx) -> None:
    snap = client(fx).fetch_snapshot()
    assert snap.fetched == {PT} and snap.accounts_fetched == {PT}


def test_a_failed_accounts_call_leaves_accounts_unread(fx) -> None:
    fx.inject("5xx", path="/api/v2/mix/account/accounts")
    snap = client(fx).fetch_snapshot()
    assert snap.fetched == {PT} and len(snap.positions) == 1
    assert snap.accounts == () and snap.accounts_fetched == frozenset()


def test_a_skipped_row_holds_only_its_own_symbol(fx) -> None:
    fx.inject(
        "raw",
        path="/api/v2/mix/position/all-position",
        body=b'{"code":"00000","msg":"success","requestTime":1,"data":[{"symbol":"ETHUSDT"}]}',
    )
    snap = client(fx).fetch_snapshot()  # read, not unreachable: one warning, no positions
    assert snap.positions == () and len(snap.warnings) == 1
    assert snap.fetched == {PT} and snap.unreadable == {(PT, "ETHUSDT")}


def test_a_skipped_row_without_a_readable_symbol_holds_its_product_type(fx) -> None:
    fx.inject(
        "raw",
        path="/api/v2/mix/position/all-position",
        body=b'{"code":"00000","msg":"success","requestTime":1,"data":[{"symbol":7}]}',
    )
    snap = client(fx).fetch_snapshot()
    assert snap.positions == () and len(snap.warnings) == 1
    assert snap.fetched == frozenset()


def test_a_unified_account_read_names_unified(fx) -> None:
    fx.set_account_mode("unified")
    snap = client(fx, api="v3").fetch_snapshot()
    assert snap.fetched == {PT} and snap.accounts_fetched == {UNIFIED}
