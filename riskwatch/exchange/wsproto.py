"""Bitget's WebSocket messages, both dialects: what to send, and what a push means.

Pure (no socket here): ``stream`` sends what this module builds and hands it what arrives.
From Bitget's docs (https://www.bitget.com/api-doc/common/websocket-intro, .../contract/
websocket/public/Tickers-Channel, .../private/Positions-Channel, .../private/Account-Channel):
- v2 (classic accounts), ``wss://ws.bitget.com/v2/ws/public`` and ``/private``: subscribe
  ``{"instType": "USDT-FUTURES", "channel": "ticker", "instId": "BTCUSDT"}``; private channels
  ``positions`` (``instId: default``) and ``account`` (``coin: default``) per product type;
- v3 (unified accounts), ``/v3/ws/public`` and ``/private``: ``{"instType": "usdt-futures",
  "topic": "ticker", "symbol": "BTCUSDT"}``; private topics ``position`` and ``account`` with
  ``instType: UTA``;
- login: ``{"op": "login", "args": [{"apiKey", "passphrase", "timestamp" (seconds), "sign"}]}``
  with sign = base64(HMAC-SHA256(secret, timestamp + "GET" + "/user/verify"));
- pushes: ``{"action": "snapshot", "arg": {...}, "data": [{..., "markPrice": "..", "ts": ..}],
  "ts": ..}``; heartbeats are the text frames ``ping`` and ``pong``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from riskwatch.exchange.normalise.numbers import ROW_ERRORS, num

VERIFY_PATH = "/user/verify"
HOSTS = {False: "wss://ws.bitget.com", True: "wss://wspap.bitget.com"}  # by demo


@dataclass(frozen=True, slots=True)
class Tick:
    """A new mark price: ``markPrice`` (never ``lastPr``) at Bitget's time ``at`` (seconds)."""

    product_type: str
    symbol: str
    mark: Decimal
    at: float


@dataclass(frozen=True, slots=True)
class Private:
    """A push on a private channel: something about positions or the account changed."""

    channel: str


class Refused(Exception):
    """Bitget answered ``event: error`` (a refused login, an unknown channel)."""

    def __init__(self, code: str, msg: str) -> None:
        super().__init__(f"{code} {msg}".strip())
        self.code = code


def default_urls(dialect: str, demo: bool) -> tuple[str, str]:
    """Bitget's public and private URLs for ``dialect`` (v2 or v3), live or demo."""
    host = HOSTS[bool(demo)]
    return f"{host}/{dialect}/ws/public", f"{host}/{dialect}/ws/private"


def login(api_key: str, secret: str, passphrase: str, now: float) -> str:
    """The login frame; ``now`` is Bitget's time (ours plus the measured clock offset)."""
    ts = str(int(now))
    digest = hmac.new(secret.encode(), (ts + "GET" + VERIFY_PATH).encode(), hashlib.sha256)
    sign = base64.b64encode(digest.digest()).decode()
    arg = {"apiKey": api_key, "passphrase": passphrase, "timestamp": ts, "sign": sign}
    return json.dumps({"op": "login", "args": [arg]})


def ticker_arg(dialect: str, product_type: str, symbol: str) -> dict[str, str]:
    if dialect == "v3":
        return {"instType": product_type.lower(), "topic": "ticker", "symbol": symbol}
    return {"instType": product_type, "channel": "ticker", "instId": symbol}


def private_args(dialect: str, product_types: tuple[str, ...]) -> list[dict[str, str]]:
    if dialect == "v3":
        return [
            {"instType": "UTA", "topic": "position"},
            {"instType": "UTA", "topic": "account"},
        ]
    out: list[dict[str, str]] = []
    for pt in product_types:
        out.append({"instType": pt, "channel": "positions", "instId": "default"})
        out.append({"instType": pt, "channel": "account", "coin": "default"})
    return out


def request(op: str, args: list[dict[str, str]]) -> str:
    return json.dumps({"op": op, "args": args})


def key(arg: dict[str, str]) -> tuple[str, ...]:
    """A subscription's identity, hashable (for the set of what is subscribed)."""
    return tuple(sorted(arg.items()))  # type: ignore[arg-type]


def parse(text: str) -> list[Tick] | Private | dict[str, Any] | None:
    """What a text frame says: ticks, a private push, an event (login, subscribe, error: the
    raw dict), or None for a heartbeat or anything unreadable (a hostile frame is dropped)."""
    if text == "pong" or text == "ping":
        return None
    try:
        msg = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser's
        return None
    if not isinstance(msg, dict):
        return None
    if "event" in msg:
        return msg
    arg, data = msg.get("arg"), msg.get("data")
    if not isinstance(arg, dict) or not isinstance(data, list):
        return None
    channel = str(arg.get("channel") or arg.get("topic") or "")
    if channel != "ticker":
        return Private(channel) if channel else None
    pt = str(arg.get("instType") or "").upper()
    return [t for row in data if (t := _tick(pt, arg, row, msg.get("ts"))) is not None]


def _tick(pt: str, arg: dict[str, Any], row: object, envelope_ts: object) -> Tick | None:
    if not isinstance(row, dict):
        return None
    symbol = row.get("instId") or row.get("symbol") or arg.get("instId") or arg.get("symbol")
    try:  # a number as the REST rows read it: 1e16 or more raises (no overflow in the metrics)
        mark = num(row["markPrice"])
        at = float(row.get("ts") or envelope_ts) / 1000.0  # type: ignore[arg-type]
    except ROW_ERRORS:
        return None
    if not symbol or not mark.is_finite() or mark <= 0:
        return None
    if not math.isfinite(at) or at <= 0:  # NaN, inf: a tick that would win over every poll
        return None
    return Tick(product_type=pt, symbol=str(symbol), mark=mark, at=at)
