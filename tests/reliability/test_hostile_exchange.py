"""A hostile exchange edge: slow, redirecting, huge and lying replies (issue 16, defects 1-4).

Each case answers through the real HTTP stack of the simulated exchange and asserts that the
client ends the request within its bounds with a ``RiskwatchError`` (so the daemon goes on:
stale alerts, log lines), never with a hang, a leak of the signed headers, a crash or a
gigabyte of memory.
"""

from __future__ import annotations

import gzip
import json
import threading
import tracemalloc

import pytest

from riskwatch.errors import ExchangeError, RiskwatchError
from riskwatch.exchange.fake.server import FakeBitget
from tests.exchange_support import FakeClock, client

from .conftest import assert_no_secrets, leaks

pytestmark = pytest.mark.reliability
POSITIONS = "/api/v2/mix/position/all-position"
PT = "USDT-FUTURES"


def envelope(data: object) -> bytes:
    return json.dumps({"code": "00000", "msg": "success", "requestTime": 1, "data": data}).encode()


def row(symbol: str, side: str = "long", **fields: object) -> dict:
    """A v2 position row 10 % from liquidation (a warning under a 15 % rule)."""
    base = {
        "symbol": symbol,
        "holdSide": side,
        "marginCoin": "USDT",
        "total": "1",
        "markPrice": "77.7778",
        "liquidationPrice": "70",
        "leverage": "3",
        "marginMode": "isolated",
    }
    return {**base, **fields}


def fetch_within(c, seconds: float):
    """fetch_snapshot in a thread, joined for at most ``seconds``: (snapshot, error)."""
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["snap"] = c.fetch_snapshot()
        except BaseException as exc:
            box["exc"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), "the fetch did not end: no total deadline"
    return box.get("snap"), box.get("exc")


@pytest.fixture
def fx():
    with FakeBitget() as fake:
        fake.add_position("BTCUSDT", "long", mark="100", liquidation="70")
        yield fake


def test_a_trickled_reply_is_cut_at_the_total_deadline(fx, ledger) -> None:
    """Defect 1: one byte every 50 ms never trips a per-read timeout; the total does."""
    fx.inject("trickle", path=POSITIONS, count=1, seconds=0.05)
    snap, exc = fetch_within(client(fx, timeout=1.0), 20)
    assert exc is None and [p.symbol for p in snap.positions] == ["BTCUSDT"]  # retried, read
    ledger.record("hostile", faults=1, expected=1, delivered=1)


def test_a_redirect_is_never_followed_and_names_its_host(fx, logtap, ledger) -> None:
    """Defect 2: the signed headers must not reach the Location, nor its answer be believed
    (an empty list there would close every position)."""
    with FakeBitget() as elsewhere:
        target = f"http://localhost:{elsewhere.url.rsplit(':', 1)[1]}{POSITIONS}"
        fx.inject("raw", path=POSITIONS, status=302, headers={"Location": target})
        snap, exc = fetch_within(client(fx), 20)
        assert snap is None and isinstance(exc, ExchangeError)
        assert "redirect to localhost not followed" in str(exc)
        assert elsewhere.requests == []
    leaked = leaks([logtap.text(), str(exc)])
    ledger.record("hostile", faults=1, leaked=leaked)
    assert leaked == 0


HOSTILE = [
    ("nested-json", b'{"code":"00000","data":' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
    ("decimal-overflow", envelope([row("ETHUSDT", total="1e999999999"), row("XRPUSDT")])),
    ("product-overflow", envelope([row("ETHUSDT", total="9e15", markPrice="9e99"), row("XRP")])),
    ("infinite-mark", envelope([row("ETHUSDT", markPrice="Infinity"), row("XRPUSDT")])),
    ("nan-margin", envelope([row("ETHUSDT", marginSize="NaN"), row("XRPUSDT")])),
]


@pytest.mark.parametrize("name,body", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_a_hostile_but_valid_reply_never_ends_the_client(fx, ledger, name, body) -> None:
    """Defect 3: deep JSON, numbers past Decimal's range or any sane one: the bad row (or the
    reply) is skipped with a line; the good rows are read; nothing but a RiskwatchError."""
    fx.inject("raw", path=POSITIONS, body=body)
    snap, exc = fetch_within(client(fx), 20)
    assert exc is None or isinstance(exc, RiskwatchError), repr(exc)
    if name == "nested-json":
        assert "nested deeper than" in str(exc)
    else:
        assert [p.symbol for p in snap.positions] in (["XRPUSDT"], ["XRP"])
        assert len(snap.warnings) == 1 and "ETHUSDT" in snap.warnings[0]
    ledger.record("hostile", faults=1)


@pytest.mark.parametrize("server_time", ["NaN", "Infinity", "1e300", "-5"])
def test_a_server_time_that_is_not_finite_or_near_now_is_not_believed(fx, ledger, server_time):
    """Defect 3: a NaN server time made every signature raise ValueError (exit 1)."""
    fx.inject("raw", path="/api/v2/public/time", body=envelope({"serverTime": server_time}))
    snap, exc = fetch_within(client(fx, FakeClock()), 20)
    assert snap is None and isinstance(exc, RiskwatchError), repr(exc)
    assert "server time" in str(exc)
    ledger.record("hostile", faults=1)


def test_a_gzip_bomb_is_stopped_at_the_size_cap(fx, ledger) -> None:
    """Defect 4: 48 MiB inflating from ~50 KB must stop at 16 MiB, not fill memory."""
    bomb = gzip.compress(b'{"code":"00000","data":"' + b"0" * (48 << 20), compresslevel=9)
    fx.inject("raw", path=POSITIONS, body=bomb, headers={"Content-Encoding": "gzip"})
    tracemalloc.start()
    try:
        snap, exc = fetch_within(client(fx), 60)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert snap is None and isinstance(exc, RiskwatchError)
    assert "larger than 16 MiB" in str(exc)
    assert peak < 40 << 20, f"peak {peak >> 20} MiB"
    ledger.record("hostile", faults=1)


def test_secrets_stay_out_of_the_hostile_replies_errors(fx, logtap) -> None:
    fx.inject("raw", path=POSITIONS, status=301, headers={"Location": "http://x.invalid/"})
    _, exc = fetch_within(client(fx), 20)
    assert_no_secrets([logtap.text(), str(exc)], "logs/errors")
