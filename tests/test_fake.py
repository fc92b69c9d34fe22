"""The simulated exchange itself: state, caching, faults, random walk, request log."""

from __future__ import annotations

from decimal import Decimal

import requests

from riskwatch.exchange.fake.server import FakeBitget
from tests.exchange_support import FakeClock, client


def test_serves_ten_thousand_positions_and_caches_until_state_changes() -> None:
    with FakeBitget() as fx:
        fx.add_many(10_000)
        c = client(fx, rate_limit=False)
        snap = c.fetch_snapshot()
        assert len(snap.positions) == 10_000
        assert fx.book._cache  # rendered once...
        fx.set_mark("C1USDT", "123.5")  # ...and invalidated by a change
        assert not fx.book._cache
        again = c.fetch_snapshot()
        (p,) = [p for p in again.positions if p.symbol == "C1USDT"]
        assert p.mark_price == Decimal("123.5")


def test_request_log_and_public_time_needs_no_key() -> None:
    with FakeBitget() as fx:
        fx.skew(12.5)
        body = requests.get(f"{fx.url}/api/v2/public/time", timeout=5).json()
        assert abs(int(body["data"]["serverTime"]) - fx.now_ms()) < 2000
        r = requests.get(f"{fx.url}/api/v2/mix/position/all-position?productType=X", timeout=5)
        assert r.status_code == 400 and r.json()["code"] == "40006"
        assert [(x.path, x.status) for x in fx.requests] == [
            ("/api/v2/public/time", 200),
            ("/api/v2/mix/position/all-position", 400),
        ]


def test_request_log_is_bounded_keeping_the_latest() -> None:
    class Small(FakeBitget):
        MAX_LOGGED = 3

    with Small() as fx:
        for i in range(5):
            requests.get(f"{fx.url}/api/v2/public/time?n={i}", timeout=5)
        assert [x.query for x in fx.requests] == ["n=2", "n=3", "n=4"]
        assert len(fx.requests) == 3 and fx.paths() == ["/api/v2/public/time"] * 3
    with FakeBitget() as fx:
        for i in range(FakeBitget.MAX_LOGGED + 5):
            fx.log("/p", str(i), 200)
        assert len(fx.requests) == FakeBitget.MAX_LOGGED
        assert fx.requests[-1].query == str(FakeBitget.MAX_LOGGED + 4)


def test_faults_count_down_and_clear() -> None:
    with FakeBitget() as fx:
        fx.inject("429", count=2, retry_after=1)
        url = f"{fx.url}/api/v2/public/time"
        first = requests.get(url, timeout=5)
        assert first.status_code == 429 and first.headers["Retry-After"] == "1"
        assert requests.get(url, timeout=5).status_code == 429
        assert requests.get(url, timeout=5).status_code == 200
        fx.inject("5xx", path="/api/v2/public/*")
        assert requests.get(url, timeout=5).status_code == 503
        fx.clear_faults()
        assert requests.get(url, timeout=5).status_code == 200


def test_random_walk_is_seeded_and_drifts_toward_liquidation() -> None:
    marks = []
    for _ in range(2):
        with FakeBitget(seed=7) as fx:
            fx.add_position("AUSDT", "long", mark="100", liquidation="80")
            fx.add_position("BUSDT", "short", mark="100", liquidation="120")
            fx.random_walk(20, drift_pct=0.5, vol_pct=0.1)
            snap = client(fx, FakeClock()).fetch_snapshot()
            marks.append({p.symbol: p.mark_price for p in snap.positions})
    assert marks[0] == marks[1]
    assert marks[0]["AUSDT"] < 100 < marks[0]["BUSDT"]


def test_market_contracts_lists_the_symbols_held() -> None:
    with FakeBitget() as fx:
        fx.add_position("BTCUSDT", "long")
        body = requests.get(
            f"{fx.url}/api/v2/mix/market/contracts?productType=USDT-FUTURES", timeout=5
        ).json()
        assert [c["symbol"] for c in body["data"]] == ["BTCUSDT"]


def test_position_removed_disappears() -> None:
    with FakeBitget() as fx:
        fx.add_position("BTCUSDT", "long")
        fx.remove_position("BTCUSDT", "long")
        assert client(fx).fetch_snapshot().positions == ()
