"""The simulator answers as Bitget does where riskwatch used to pass on its shortcuts."""

from __future__ import annotations

from decimal import Decimal

import pytest

from riskwatch.errors import AuthError, ExchangeError
from riskwatch.exchange.credentials import Credentials
from riskwatch.exchange.fake.gate import UTA_MGT, UTA_TRADE
from riskwatch.exchange.fake.server import FakeBitget
from riskwatch.exchange.transport import Transport
from tests.exchange_support import CREDS, client, settings

WRONG_CREDS = Credentials("bg_wrong_key_000111222", "wrong_secret_333444555", "wrong_pass_667")


def _liq(fx: FakeBitget, symbol: str = "BTCUSDT") -> Decimal | None:
    snap = client(fx, api="v2").fetch_snapshot()
    return next(p.liquidation_price for p in snap.positions if p.symbol == symbol)


def test_v1_answers_30032_unless_started_with_v1_and_before_40085() -> None:
    with FakeBitget(account_mode="unified") as fx:
        for creds in (CREDS, WRONG_CREDS):
            with pytest.raises(AuthError) as info:
                client(fx, api="v1", creds=creds).fetch_snapshot()
            assert info.value.code == "30032"
    with FakeBitget(v1_enabled=True) as fx:
        fx.add_position("BTCUSDT", "long", liquidation="90")
        assert len(client(fx, api="v1").fetch_snapshot().positions) == 1


def test_crossed_liquidation_price_comes_from_the_account_equity() -> None:
    with FakeBitget() as fx:
        # Bitget's own example: a 0.0155 BTC cross short backed by ~88k of equity.
        fx.add_position("BTCUSDT", "short", total="0.0155", mark="93203.4", leverage=14)
        fx.set_account(accountEquity="87850")
        docs = _liq(fx)
        assert docs is not None and abs(docs / Decimal("5737867.86") - 1) < Decimal("0.01")
        fx.set_account(accountEquity="1000")
        poorer = _liq(fx)
        assert poorer is not None and poorer < docs  # less equity: liquidation nearer
        fx.add_position("ETHUSDT", "long", total="50", mark="2500")  # 500 of maintenance
        shared = _liq(fx)
        assert shared is not None and shared < poorer  # the other position shares the equity
        fx.add_position("SOLUSDT", "long", total="1", mark="100")
        assert _liq(fx, "SOLUSDT") is None  # a long the equity covers down to 0: Bitget's <= 0
        fx.add_position("XRPUSDT", "long", total="1", mark="100", margin_mode="isolated")
        assert _liq(fx, "XRPUSDT") == Decimal("90.4")  # isolated: its own margin, 10x


def test_permission_scopes_on_classic_paths() -> None:
    scopes = frozenset({UTA_TRADE, UTA_MGT})
    with FakeBitget(permissions=scopes) as fx, pytest.raises(AuthError) as info:
        client(fx, api="v2").fetch_snapshot()
    assert info.value.code == "40014" and "Read permission" in info.value.explanation
    assert info.value.explanation.endswith("need Read permissions")


def test_v3_without_category_is_400172() -> None:
    with FakeBitget(account_mode="unified") as fx:
        t = Transport(settings(fx), CREDS, sleep=lambda s: None)
        with pytest.raises(ExchangeError) as info:
            t.get("/api/v3/position/current-position", None, bucket="v3-position")
        assert info.value.code == "400172"
        assert t.get("/api/v3/account/settings", None, bucket="v3-settings")["accountMode"] == (
            "unified"
        )
        for path, params in (
            ("/api/v3/trade/history-orders", {"symbol": "BTCUSDT"}),  # category is required
            ("/api/v3/trade/fills", {"category": "usdt-futures"}),  # and checked when given
            ("/api/v3/trade/fills", {"category": "SUSDT-FUTURES"}),
        ):
            with pytest.raises(ExchangeError) as info:
                t.get(path, params, bucket="v3-fills")
            assert info.value.code == "400172", path
