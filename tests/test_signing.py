"""Signing exactly as Bitget specifies: prehash layout, base64 HMAC-SHA256, headers."""

from __future__ import annotations

import base64
import hashlib
import hmac

from riskwatch.exchange import signing


def _ref(secret: str, text: str) -> str:
    return base64.b64encode(
        hmac.new(secret.encode(), text.encode(), hashlib.sha256).digest()
    ).decode()


def test_prehash_matches_bitgets_documented_example() -> None:
    got = signing.prehash(
        "16273667805456", "get", "/api/mix/v1/market/depth", "symbol=BTCUSDT_UMCBL&limit=20"
    )
    assert got == "16273667805456GET/api/mix/v1/market/depth?symbol=BTCUSDT_UMCBL&limit=20"


def test_no_question_mark_without_query() -> None:
    assert signing.prehash("1", "GET", "/api/v3/account/assets") == "1GET/api/v3/account/assets"


def test_signature_is_base64_hmac_sha256_of_prehash() -> None:
    sig = signing.sign("s3cr3t", "1700000000000", "GET", "/p", "a=1&b=2")
    assert sig == _ref("s3cr3t", "1700000000000GET/p?a=1&b=2")
    assert sig != signing.sign("s3cr3t", "1700000000000", "GET", "/p", "b=2&a=1")


def test_query_is_sorted_and_encoded_once_so_signed_equals_sent() -> None:
    q = signing.encode_query({"productType": "USDT-FUTURES", "marginCoin": "USDT"})
    assert q == "marginCoin=USDT&productType=USDT-FUTURES"
    assert signing.encode_query({"x": "a b&c"}) == "x=a%20b%26c"
    assert signing.encode_query(None) == ""


def test_headers_carry_everything_bitget_wants_and_demo_flag() -> None:
    h = signing.headers(api_key="k", passphrase="p", signature="s", timestamp="1", demo=False)
    assert h == {
        "ACCESS-KEY": "k",
        "ACCESS-SIGN": "s",
        "ACCESS-TIMESTAMP": "1",
        "ACCESS-PASSPHRASE": "p",
        "Content-Type": "application/json",
        "locale": "en-US",
    }
    demo = signing.headers(api_key="k", passphrase="p", signature="s", timestamp="1", demo=True)
    assert demo["paptrading"] == "1"
