"""The simulated Bitget's HTTP side: one request in, Bitget's envelope (or a fault) out.

Kept apart from ``fake`` (the ``FakeBitget`` controller: lifecycle, auth, routing, fault
queue) and ``fake_state`` (the book) so each stays small: this module only turns what
``FakeBitget`` decides into bytes on the socket, in the order Bitget checks a request
(fault, then ``gate``'s checks in Bitget's order, then the route). It also renders the
account and contract rows, which are response shapes rather than state.
"""

from __future__ import annotations

import json
import socket
import struct
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from riskwatch.exchange.fake import gate
from riskwatch.exchange.fake.state import Book

if TYPE_CHECKING:  # fake imports this module at run time: annotations only, no cycle
    from riskwatch.exchange.fake.server import FakeBitget, Fault

ERR = {
    "40006": "Invalid ACCESS_KEY",
    "40012": "apikey/password is incorrect",
    "40009": "sign signature error",
    "40008": "Request timestamp expired",
    "40005": "Invalid ACCESS_TIMESTAMP",
    "40085": "You are in Unified Account mode, and the Classic Account API is not supported "
    "at this time",
    "40084": "You are in Classic Account mode, and the Unified Account API is not supported "
    "at this time",
    "30032": "The V1 API has been decommissioned. Please migrate to a newer version.",
    "40017": "Parameter verification failed",
    "400172": "Parameter verification failed",
    "40099": "exchange environment is incorrect",
    "40014": "Incorrect permissions, need {0} permissions",
    "40404": "Request URL NOT FOUND",
    "429": "Too Many Requests",
}


class Raw(bytes):
    """Already-serialised ``data``: spliced into the envelope as is."""


def account_rows(b: Book, pt: str, *, v1: bool) -> list[dict[str, Any]]:
    """The book's accounts of ``pt`` as v2 rows, or renamed to v1's field names."""
    out = []
    for (apt, _coin), acc in sorted(b.accounts.items()):
        if apt != pt:
            continue
        row = dict(acc)
        if not v1:
            row["assetMode"] = b.asset_mode
            if b.asset_mode == "union":
                row.update(b.union)
        if v1:
            row["equity"] = row.pop("accountEquity", "0")
            row["crossRiskRate"] = row.pop("crossedRiskRate", "0")
            row["crossMaxAvailable"] = row.pop("crossedMaxAvailable", "0")
            row["fixedMaxAvailable"] = row.pop("isolatedMaxAvailable", "0")
        out.append(row)
    return out


def contract_rows(b: Book, pt: str) -> list[dict[str, Any]]:
    """``/api/v2/mix/market/contracts``: one plausible contract per symbol held in ``pt``."""
    symbols = sorted({p.symbol for p in b.positions.values() if p.product_type == pt})
    coin = "USDT" if pt.endswith("USDT-FUTURES") else "USDC" if "USDC" in pt else ""
    return [
        {
            "symbol": s,
            "baseCoin": s.removesuffix(coin or "USD"),
            "quoteCoin": coin or "USD",
            "symbolType": "perpetual",
            "symbolStatus": "normal",
            "supportMarginCoins": [coin or s.removesuffix("USD")],
            "pricePlace": "2",
            "volumePlace": "3",
            "sizeMultiplier": "0.001",
            "minTradeNum": "0.001",
            "makerFeeRate": "0.0002",
            "takerFeeRate": "0.0006",
            "maxLever": "125",
            "minLever": "1",
        }
        for s in symbols
    ]


class Handler(BaseHTTPRequestHandler):
    """Serves one ``FakeBitget`` (bound as ``fake`` by a subclass made in ``start``)."""

    fake: FakeBitget
    protocol_version = "HTTP/1.1"
    # Headers and body go out as two writes; without TCP_NODELAY a small reply waits ~40 ms
    # for the client's delayed ACK, which would dominate every benchmark on loopback.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read fake.requests
        pass

    def do_GET(self) -> None:
        split = urlsplit(self.path)
        path, query = split.path, split.query
        params = dict(parse_qsl(query))
        fx = self._fx = self.fake.for_key(self.headers.get("ACCESS-KEY"))
        fault = fx.take_fault(path)
        if fault is not None and self._fault(fault, path, query):
            return
        refused = gate.refusal(fx, path, query, params, self.headers)
        if refused is not None:
            return self._error(path, query, refused[0], msg=refused[1])
        built = fx.route(path, params)
        if isinstance(built, str):
            return self._error(path, query, built, status=404 if built == "40404" else 400)
        data = built()
        raw = data if isinstance(data, Raw) else json.dumps(data).encode()
        head = b'{"code":"00000","msg":"success","requestTime":%d,"data":' % fx.now_ms()
        self._send(path, query, 200, head + raw + b"}")

    # ------------------------------------------------------------------ answers

    def _served(self) -> FakeBitget:
        """The account (by the request's key) this request is served by."""
        return getattr(self, "_fx", None) or self.fake

    def _send(
        self, path: str, query: str, status: int, body: bytes, headers: dict[str, str] | None = None
    ) -> None:
        self._served().log(path, query, status)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _error(
        self,
        path: str,
        query: str,
        code: str,
        status: int = 400,
        headers: dict[str, str] | None = None,
        msg: str | None = None,
    ) -> None:
        body = json.dumps(
            {
                "code": code,
                "msg": msg or ERR.get(code, "error"),
                "requestTime": self._served().now_ms(),
                "data": None,
            }
        ).encode()
        self._send(path, query, status, body, headers)

    def _fault(self, f: Fault, path: str, query: str) -> bool:
        """Answer with fault ``f``; False when the fault lets the request through."""
        if f.kind == "429":
            hdr = {"Retry-After": f.retry_after} if f.retry_after is not None else None
            self._error(path, query, "429", status=429, headers=hdr)
        elif f.kind == "5xx":
            self._send(path, query, f.status or 503, b"<html>Service Unavailable</html>")
        elif f.kind == "garbage":
            self._send(path, query, 200, b'{"code":"00000","data":[{"symbol":')
        elif f.kind == "raw":
            self._send(path, query, f.status or 200, f.body, f.headers)
        elif f.kind == "trickle":
            self._trickle(path, query, f.seconds)
        elif f.kind == "empty":
            self._send(path, query, 200, b"")
        elif f.kind == "code":
            self._error(path, query, f.code or "40015", status=f.status or 400)
        elif f.kind == "reset":
            self._served().log(path, query, 0)
            self._reset()
        elif f.kind == "hang":
            self._served().log(path, query, 0)
            self._served()._stopping.wait(f.seconds)
            self._reset()
        else:
            return False
        return True

    def _trickle(self, path: str, query: str, every: float) -> None:
        """A valid empty reply, one byte every ``every`` seconds (never a gap long enough for
        a per-read timeout), until the client gives up or the simulator stops."""
        body = b'{"code":"00000","msg":"success","requestTime":0,"data":[]}' + b" " * 100_000
        self.fake.log(path, query, 200)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            for i in range(len(body)):
                if self.fake._stopping.wait(every):
                    break
                self.wfile.write(body[i : i + 1])
                self.wfile.flush()
        except OSError:
            pass
        self.close_connection = True

    def _reset(self) -> None:
        """Close with RST (SO_LINGER 0): the client sees 'connection reset by peer'."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass
