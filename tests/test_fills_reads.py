"""The fills and ADL reads at the exchange edge: signed, rate-limited, forgiving of bad rows."""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request

from riskwatch.exchange.fake.server import FakeBitget
from tests.exchange_support import FakeClock, client


def test_fills_are_signed_paged_and_read_within_the_rate_limit():
    with FakeBitget() as fx:
        fx.add_position("BTCUSDT", "long", total="300", mark="100", liquidation="90")
        since = time.time() - 5
        for _ in range(150):  # 150 forced cuts: two pages of 100
            fx.force_reduce("BTCUSDT", "long", "1", price="95")
        clock = FakeClock()
        c = client(fx, clock)
        try:
            fills = c.fetch_fills("USDT-FUTURES", "BTCUSDT", since)
            for _ in range(10):
                c.fetch_fills("USDT-FUTURES", "BTCUSDT", since)
        finally:
            c.close()
        try:
            urllib.request.urlopen(
                f"{fx.url}/api/v2/mix/order/fills?productType=USDT-FUTURES", timeout=5
            )
            unsigned = "200"
        except urllib.error.HTTPError as exc:
            unsigned = json.loads(exc.read())["code"]
    assert len(fills) == 150 and {f.trade_side for f in fills} == {"reduce_close_long"}
    assert len({f.fill_id for f in fills}) == 150
    assert sum(clock.slept) > 0, "21 reads at 10/s: the limiter made the client wait"
    assert unsigned == "40006"


def test_a_hostile_fill_row_is_skipped_with_one_warning(caplog):
    with FakeBitget() as fx:
        body = {
            "code": "00000",
            "msg": "success",
            "requestTime": 1,
            "data": {
                "fillList": [
                    {"symbol": "BTCUSDT", "price": "x", "baseVolume": "1", "cTime": "1"},
                    {"symbol": "BTCUSDT", "price": "95", "baseVolume": "1", "cTime": "NaN",
                     "tradeSide": "close"},
                    {"symbol": "BTCUSDT", "price": "95", "baseVolume": "1", "cTime": "2000",
                     "tradeSide": "burst_close_long", "profit": "-5"},
                ],
                "endId": "1",
            },
        }  # fmt: skip
        fx.inject("raw", path="/api/v2/mix/order/fills", body=json.dumps(body).encode())
        c = client(fx, FakeClock())
        try:
            with caplog.at_level(logging.WARNING, logger="riskwatch"):
                fills = c.fetch_fills("USDT-FUTURES", "BTCUSDT", 0.0)
        finally:
            c.close()
    got = [(f.trade_side, str(f.price), round(f.at)) for f in fills]  # our clock: ~ Bitget's
    assert got == [("burst_close_long", "95", 2)]
    assert caplog.text.count("skipped an unreadable fill row") == 2  # a bad price, a NaN time


def test_a_unified_coin_m_liquidation_is_found_under_its_cm_symbol():
    with FakeBitget(account_mode="unified") as fx:
        fx.add_position(
            "BTCUSD", "long", total="2", mark="95000", liquidation="90000",
            product_type="COIN-FUTURES", margin_coin="BTC",
        )  # fmt: skip
        since = time.time() - 5
        fx.set_adl_rank("BTCUSD", "long", "0.7", product_type="COIN-FUTURES")
        c = client(fx, FakeClock(), api="v3", product_types=("COIN-FUTURES",))
        try:
            (position,) = c.fetch_snapshot().positions
            fx.liquidate("BTCUSD", "long", price="89900", product_type="COIN-FUTURES")
            fills = c.fetch_fills("COIN-FUTURES", "BTCUSD", since)
        finally:
            c.close()
    assert (position.symbol, str(position.adl_rank)) == ("BTCUSD", "0.7")
    assert [(f.symbol, f.trade_side) for f in fills] == [("BTCUSD", "liquidation")]
    orders = [q.query for q in fx.requests if q.path == "/api/v3/trade/history-orders"]
    assert len(orders) == 1 and "symbol=BTCUSD_CM" in orders[0]
