"""Bitget's WebSocket messages (``exchange.wsproto``): what a frame means, hostile ones
dropped, and Bitget's URLs."""

from __future__ import annotations

import pytest

from riskwatch.exchange import wsproto


def test_parse_drops_hostile_frames() -> None:
    assert wsproto.parse("pong") is None
    assert wsproto.parse("{not json") is None
    assert wsproto.parse('{"arg":{"channel":"ticker","instType":"USDT-FUTURES"},"data":[{}]}') == []
    row = '{"instId":"A","markPrice":"-1","ts":"1"}'
    bad = '{"arg":{"channel":"ticker","instType":"X"},"data":[' + row + "]}"
    assert wsproto.parse(bad) == []
    assert wsproto.parse("[" * 200_000 + "]" * 200_000) is None  # deeper than json can parse


@pytest.mark.parametrize(
    "row",
    [
        '{"instId":"A","markPrice":"1e1000000","ts":"1700000000000"}',  # overflows the metrics
        '{"instId":"A","markPrice":"1e-1000000","ts":"1700000000000"}',
        '{"instId":"A","markPrice":"1e16","ts":"1700000000000"}',  # beyond what REST accepts
        '{"instId":"A","markPrice":true,"ts":"1700000000000"}',
        '{"instId":"A","markPrice":"100","ts":1e999}',  # inf: would win over every poll
        '{"instId":"A","markPrice":"100","ts":"NaN"}',
        '{"instId":"A","markPrice":"100","ts":' + "9" * 400 + "}",  # OverflowError in float()
    ],
)
def test_parse_drops_absurd_marks_and_times(row: str) -> None:
    frame = '{"arg":{"channel":"ticker","instType":"USDT-FUTURES"},"data":[' + row + "]}"
    assert wsproto.parse(frame) == []


def test_default_urls_are_bitgets() -> None:
    assert wsproto.default_urls("v2", False) == (
        "wss://ws.bitget.com/v2/ws/public",
        "wss://ws.bitget.com/v2/ws/private",
    )
    assert wsproto.default_urls("v3", False)[0] == "wss://ws.bitget.com/v3/ws/public"
    assert wsproto.default_urls("v2", True)[1] == "wss://wspap.bitget.com/v2/ws/private"
