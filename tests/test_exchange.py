"""The Bitget client over real HTTP against FakeBitget: shapes, retries, clock, fallback."""

from __future__ import annotations

import threading
from email.utils import formatdate

import pytest

from riskwatch.core import metrics
from riskwatch.errors import ExchangeError, TransientError, Unreachable
from riskwatch.exchange.fake.server import FakeBitget
from riskwatch.exchange.ratelimit import RateLimiter
from riskwatch.exchange.transport import FALLBACK_HOLD, parse_retry_after
from tests.exchange_support import FakeClock, client, seed_fixture_positions

POS = "/api/v2/mix/position/all-position"


@pytest.fixture
def fx():
    with FakeBitget() as fake:
        seed_fixture_positions(fake)
        yield fake


def _gaps(snap):
    return {
        (p.symbol, p.side): None if (g := metrics.liq_gap_pct(p)) is None else f"{g:.2f}"
        for p in snap.positions
    }


EXPECTED = {("BTCUSDT", "short"): "7.10", ("ETHUSDT", "long"): "9.84", ("SOLUSDT", "long"): None}


@pytest.mark.parametrize("api", ["v2", "v1", "auto"])
def test_classic_shapes_list_exactly_the_open_positions(fx, api) -> None:
    fx.v1_enabled = api == "v1"  # the legacy path, against a v1-shaped server
    snap = client(fx, api=api).fetch_snapshot()
    assert _gaps(snap) == EXPECTED
    assert snap.fetched == {"USDT-FUTURES"} and snap.account_mode == "classic"
    assert snap.accounts[0].account_equity is not None
    assert all(p.product_type == "USDT-FUTURES" for p in snap.positions)


def test_v1_sends_v1_product_type_names(fx) -> None:
    fx.v1_enabled = True
    client(fx, api="v1").fetch_snapshot()
    queries = [r.query for r in fx.requests if r.path.startswith("/api/mix/v1/")]
    assert "productType=umcbl" in queries
    assert "/api/spot/v1/public/time" in fx.paths()


def test_margin_coin_is_sent_and_filters(fx) -> None:
    fx.add_position("BTCUSD", "long", margin_coin="BTC", mark="100", liquidation="50")
    snap = client(fx, margin_coin="USDT").fetch_snapshot()
    assert "BTCUSD" not in {p.symbol for p in snap.positions}
    assert any("marginCoin=USDT" in r.query for r in fx.requests if r.path == POS)


def test_burst_of_429s_without_retry_after_is_ridden_out(fx) -> None:
    clock = FakeClock()
    fx.inject("429", count=6, path=POS)
    snap = client(fx, clock).fetch_snapshot()
    assert _gaps(snap) == EXPECTED
    assert len(clock.slept) >= 6 and sum(clock.slept) <= 10.0
    assert [r.status for r in fx.requests if r.path == POS].count(429) == 6


def test_retry_after_is_honoured(fx) -> None:
    clock = FakeClock()
    fx.inject("429", count=1, path=POS, retry_after=3)
    client(fx, clock).fetch_snapshot()
    assert 3.0 <= max(clock.slept) < 3.2


def test_retry_after_longer_than_budget_gives_up_at_once(fx) -> None:
    clock = FakeClock()
    fx.inject("429", path=POS, retry_after=60)
    with pytest.raises(Unreachable, match=POS):
        client(fx, clock).fetch_snapshot()
    assert all(s < 60 for s in clock.slept)


@pytest.mark.parametrize("path", [POS, "*"])
def test_retry_after_longer_than_budget_is_passed_on_with_unreachable(fx, path) -> None:
    clock = FakeClock()
    fx.inject("429", path=path, retry_after=120)
    with pytest.raises(Unreachable) as info:
        client(fx, clock).fetch_snapshot()
    assert info.value.retry_after == 120
    assert sum(clock.slept) < 10.0  # gave up within the budget, did not wait the 120 s


def test_unreachable_without_a_rate_limit_has_no_retry_after(fx) -> None:
    fx.inject("5xx", path=POS)
    with pytest.raises(Unreachable) as info:
        client(fx).fetch_snapshot()
    assert info.value.retry_after is None


def test_retry_after_http_date_and_seconds() -> None:
    assert parse_retry_after("7", now=0) == 7.0
    assert parse_retry_after(formatdate(1000 + 12, usegmt=True), now=1000.0) == pytest.approx(12)
    assert parse_retry_after("soon", now=0) is None and parse_retry_after(None, 0) is None


@pytest.mark.parametrize(
    ("kind", "kw"),
    [
        ("5xx", {}),
        ("garbage", {}),
        ("empty", {}),
        ("reset", {}),
        ("code", {"code": "40015"}),
        ("code", {"code": "45001"}),
        ("raw", {"body": b'{"code":"00000","data":{"not":"a list"}}'}),
    ],
)
def test_transient_faults_are_retried(fx, kind, kw) -> None:
    clock = FakeClock()
    fx.inject(kind, count=2, path=POS, **kw)
    assert _gaps(client(fx, clock).fetch_snapshot()) == EXPECTED
    assert len(clock.slept) >= 2


def test_hang_is_bounded_by_the_timeout(fx) -> None:
    fx.inject("hang", count=1, path=POS, seconds=3)
    clock = FakeClock()
    assert _gaps(client(fx, clock, timeout=0.3).fetch_snapshot()) == EXPECTED


def test_persistent_fault_ends_as_unreachable_naming_the_endpoint_within_budget(fx) -> None:
    clock = FakeClock()
    fx.inject("5xx", path=POS)
    start = clock()
    with pytest.raises(Unreachable) as info:
        client(fx, clock, poll_interval=10.0).fetch_snapshot()
    assert POS in str(info.value)
    assert clock() - start <= 10.0 + 0.5


def test_malformed_envelope_persisting_is_unreachable_naming_endpoint(fx) -> None:
    fx.inject("raw", path=POS, body=b'{"code":"00000","data":"nope"}')
    with pytest.raises(Unreachable, match="expected a list"):
        client(fx).fetch_snapshot()


def test_stop_event_ends_a_backoff_at_once(fx) -> None:
    stop = threading.Event()
    clock = FakeClock()

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        stop.set()

    fx.inject("5xx", path=POS)
    from riskwatch.exchange import build_client
    from tests.exchange_support import CREDS, settings

    c = build_client(settings(fx), CREDS, clock=clock, sleep=sleep, stop=stop)
    with pytest.raises(Unreachable, match="stopping"):
        c.fetch_snapshot()
    assert len(clock.slept) <= 2


@pytest.mark.parametrize("skew", [45, -45, 60, -300])
def test_clock_skew_does_not_matter(fx, skew) -> None:
    fx.skew(skew)
    assert _gaps(client(fx).fetch_snapshot()) == EXPECTED


def test_timestamp_rejection_resyncs_and_retries_once(fx) -> None:
    c = client(fx)
    c.fetch_snapshot()
    fx.skew(45)  # the server's clock jumps after our first sync
    before = fx.paths().count("/api/v2/public/time")
    assert _gaps(c.fetch_snapshot()) == EXPECTED
    assert fx.paths().count("/api/v2/public/time") == before + 1
    assert [r.status for r in fx.requests if r.path == POS][-2:] == [400, 200]


@pytest.mark.parametrize("code", ["40008", "40004", "40005"])
def test_timestamp_rejected_again_after_the_resync_fails_at_once(fx, code) -> None:
    clock = FakeClock()
    fx.inject("code", code=code, path=POS)
    with pytest.raises(ExchangeError) as info:
        client(fx, clock).fetch_snapshot()
    assert not isinstance(info.value, Unreachable | TransientError)
    assert "still rejects the request timestamp after syncing to its clock" in str(info.value)
    assert POS in str(info.value) and info.value.code == code
    assert fx.paths().count(POS) == 2  # the request, then one retry after one resync
    assert clock.slept == []


def test_fallback_host_when_primary_is_unreachable_and_primary_again_later(fx) -> None:
    clock = FakeClock()
    c = client(fx, clock, base_url="http://127.0.0.1:9", fallback_url=fx.url)
    assert _gaps(c.fetch_snapshot()) == EXPECTED
    transport = c._t
    assert transport.host == fx.url
    clock.t += FALLBACK_HOLD + 1
    assert transport.host == "http://127.0.0.1:9"


def test_partial_failure_returns_what_was_read(fx) -> None:
    fx.add_position(
        "BTCUSD",
        "long",
        product_type="COIN-FUTURES",
        margin_coin="BTC",
        mark="100",
        liquidation="50",
    )
    fx.inject("code", count=1, path=POS, code="40017")  # not retried: first product type fails
    snap = client(fx, product_types=("USDT-FUTURES", "COIN-FUTURES")).fetch_snapshot()
    assert snap.fetched == {"COIN-FUTURES"}
    assert {p.symbol for p in snap.positions} == {"BTCUSD"}


def test_unknown_code_everywhere_is_an_exchange_error_naming_endpoint(fx) -> None:
    fx.inject("code", path=POS, code="40017")
    with pytest.raises(ExchangeError, match=POS):
        client(fx).fetch_snapshot()


def test_rate_limiter_token_bucket_with_injected_clock() -> None:
    clock = FakeClock()
    rl = RateLimiter({"b": 5.0}, clock=clock, sleep=clock.sleep)
    waits = [rl.acquire("b") for _ in range(7)]
    assert waits[:5] == [0.0] * 5
    assert waits[5] == pytest.approx(0.2) and waits[6] == pytest.approx(0.2)
    off = RateLimiter({"b": 1.0}, clock=clock, sleep=clock.sleep, enabled=False)
    assert [off.acquire("b") for _ in range(5)] == [0.0] * 5


def test_client_rate_limit_spaces_requests(fx) -> None:
    clock = FakeClock()
    c = client(fx, clock)
    for _ in range(7):
        c.fetch_snapshot()
    assert sum(clock.slept) >= 0.19  # 7 all-position calls at 5/s
