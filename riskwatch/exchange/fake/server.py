"""A simulated Bitget: a real HTTP server on 127.0.0.1 that speaks v1, v2 and v3.

Used by the tests (no mocking of requests), by ``riskwatch demo`` and by the benchmarks. It
checks key, passphrase, timestamp (30 s window against its own, possibly skewed, clock) and
signature exactly as Bitget does, answering with Bitget's codes, HTTP 400 and the usual
envelope, and applies Bitget's other rules in Bitget's order (``gate``): v1 decommissioned
(30032) unless started with ``v1_enabled``, 40085/40084 for the wrong account mode, the demo
environment (``demo_key``, 40099), permission scopes (``permissions``, 40014 naming the UTA
permission), the v3 category check (400172). Crossed positions' liquidation prices follow
their account's equity; ``set_union`` turns on multi-asset mode; v3 COIN-M rows use ``_CM``
symbols sized in USD contracts.

Faults are injected with ``inject(kind, ...)``: ``429`` (with or without Retry-After), ``5xx``,
``reset`` (connection reset), ``hang`` (bounded), ``garbage`` (malformed JSON), ``empty``,
``code`` (any Bitget error code), ``raw`` (``body`` and ``headers`` as given: a redirect, a gzip
bomb, a hostile but valid reply), ``trickle`` (a valid reply sent one byte every ``seconds``);
for ``count`` requests or until ``clear_faults()``, optionally
only on paths matching a glob. ``requests`` lists (path, query, status) of the latest
``MAX_LOGGED`` requests (bounded: ``riskwatch demo`` may run for hours).

This module is the controller (lifecycle, scripting, routing, fault queue); the checks live in
``gate``, the book in ``state`` and the request handler that writes the answers in ``http``.
"""

from __future__ import annotations

import fnmatch
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from http.server import ThreadingHTTPServer
from typing import Any

from riskwatch.exchange.fake import fills as fake_fills
from riskwatch.exchange.fake.gate import ALL_PERMISSIONS
from riskwatch.exchange.fake.http import Handler, Raw, account_rows, contract_rows
from riskwatch.exchange.fake.keys import KeysMixin
from riskwatch.exchange.fake.state import (
    Book,
    FakePosition,
    default_account,
    spot_rows,
)
from riskwatch.model import V1_PRODUCT_TYPES, V3_CATEGORIES

Route = Callable[[], Any] | str


@dataclass
class Fault:
    kind: str  # 429 | 5xx | reset | hang | garbage | empty | code | raw | trickle
    path: str = "*"  # glob on the path
    count: int | None = None  # None: until cleared
    retry_after: str | None = None
    status: int | None = None
    code: str | None = None
    seconds: float = 30.0
    body: bytes = b""
    headers: dict[str, str] | None = None


@dataclass(frozen=True)
class Logged:
    path: str
    query: str
    status: int


class FakeBitget(fake_fills.FillsMixin, KeysMixin):
    """Context manager: ``with FakeBitget() as fx: ... fx.url ...``."""

    API_KEY = "bg_fake_0123456789abcdef"
    API_SECRET = "fake_secret_9f8e7d6c5b4a39281706"
    PASSPHRASE = "fake_passphrase_2718"
    WINDOW_MS = 30_000
    MAX_LOGGED = 10_000  # requests remembered; older ones are forgotten

    @classmethod
    def credentials_env(cls) -> dict[str, str]:
        """The environment variables that give riskwatch this exchange's credentials."""
        return {
            "BITGET_API_KEY": cls.API_KEY,
            "BITGET_API_SECRET": cls.API_SECRET,
            "BITGET_API_PASSPHRASE": cls.PASSPHRASE,
        }

    def __init__(
        self,
        *,
        account_mode: str = "classic",
        seed: int = 0,
        v1_enabled: bool = False,
        demo_key: bool = False,
        permissions: frozenset[str] = ALL_PERMISSIONS,
        pos_mode: str = "hedge_mode",
    ) -> None:
        self.book = Book()
        self.pos_mode = pos_mode  # hedge_mode or one_way_mode: positions and fills say so
        self.account_mode = account_mode  # classic, unified, hybrid, upgrading, switching
        self.v1_enabled = v1_enabled  # Bitget answers v1 with 30032 since 2025-11-28
        self.demo_key = demo_key  # the key is a demo-trading key: wants paptrading: 1
        self.permissions = permissions
        self.skew_seconds = 0.0
        self.rng = random.Random(seed)
        self._logged: deque[Logged] = deque(maxlen=self.MAX_LOGGED)
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.name = "default"  # the account this key is (``add_account`` names the others)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        for pt in ("USDT-FUTURES",):
            self.book.accounts[(pt, "USDT")] = default_account()

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        assert self._server is not None, "FakeBitget not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeBitget:
        handler = type("Handler", (Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-bitget",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self.stop_children()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeBitget:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ state

    def now_ms(self) -> int:
        return int((time.time() + self.skew_seconds) * 1000)

    def skew(self, seconds: float) -> None:
        """Set the server clock this many seconds ahead of the local clock (negative: behind)."""
        self.skew_seconds = seconds

    def set_account_mode(self, mode: str) -> None:
        """classic, unified, hybrid, upgrading (paths as classic) or switching (as unified)."""
        self.account_mode = mode
        self.book.changed()

    def set_union(self, **fields: Any) -> None:
        """Multi-asset (union) mode with these union figures (``unionTotalMagin`` as Bitget
        spells it, ``unionAvailable``, ``unionMm``); ``set_union()`` alone uses the defaults."""
        defaults = {"unionTotalMagin": "87850", "unionAvailable": "86406", "unionMm": "5.78"}

        def upd(b: Book) -> None:
            b.asset_mode = "union"
            b.union = {**defaults, **b.union, **{k: str(v) for k, v in fields.items()}}

        self.book.mutate(upd)

    def add_position(
        self,
        symbol: str,
        side: str,
        *,
        total: Any = "1",
        mark: Any = "100",
        open_price: Any = None,
        liquidation: Any = None,
        leverage: Any = 10,
        product_type: str = "USDT-FUTURES",
        margin_coin: str = "USDT",
        no_liquidation: bool = False,
        keep_margin_rate: Any = "0.004",
        margin_mode: str = "crossed",
    ) -> None:
        """A crossed position without ``liquidation`` gets the price its account's equity
        implies (``set_account``/``set_union``/``set_unified``); an isolated one its own."""
        p = FakePosition(
            product_type=product_type,
            symbol=symbol,
            side=side,
            total=Decimal(str(total)),
            open_price=Decimal(str(open_price if open_price is not None else mark)),
            mark=Decimal(str(mark)),
            leverage=Decimal(str(leverage)),
            margin_coin=margin_coin,
            liquidation=None if liquidation is None else Decimal(str(liquidation)),
            no_liquidation=no_liquidation,
            keep_margin_rate=Decimal(str(keep_margin_rate)),
            margin_mode=margin_mode,
            pos_mode=self.pos_mode,
        )
        self.book.mutate(lambda b: b.positions.__setitem__((product_type, symbol, side), p))

    def add_many(self, n: int, *, product_type: str = "USDT-FUTURES") -> None:
        """``n`` distinct positions (benchmarks): half long, half short, gaps spread 1-40 %."""

        def fill(b: Book) -> None:
            for i in range(n):
                side = "long" if i % 2 else "short"
                mark = Decimal(100 + i % 900)
                gap = Decimal(1 + i % 40) / 100
                liq = mark * (1 - gap) if side == "long" else mark * (1 + gap)
                b.positions[(product_type, f"C{i}USDT", side)] = FakePosition(
                    product_type,
                    f"C{i}USDT",
                    side,
                    Decimal(1),
                    mark,
                    mark,
                    liquidation=liq.quantize(Decimal("0.0001")),
                )

        self.book.mutate(fill)

    def remove_position(self, symbol: str, side: str, product_type: str = "USDT-FUTURES") -> None:
        self.book.mutate(lambda b: b.positions.pop((product_type, symbol, side), None))

    def set_mark(self, symbol: str, price: Any, product_type: str | None = None) -> None:
        def upd(b: Book) -> None:
            for p in b.positions.values():
                if p.symbol == symbol and product_type in (None, p.product_type):
                    p.mark = Decimal(str(price))

        self.book.mutate(upd)

    def set_account(
        self, product_type: str = "USDT-FUTURES", margin_coin: str = "USDT", **fields: Any
    ) -> None:
        """v2 field names (``crossedRiskRate="0.7"``); creates the account if absent."""

        def upd(b: Book) -> None:
            acc = b.accounts.setdefault((product_type, margin_coin), default_account(margin_coin))
            acc.update({k: str(v) for k, v in fields.items()})

        self.book.mutate(upd)

    def set_spot(self, coin: str, available: Any, frozen: Any = "0") -> None:
        """The spot account's holding of ``coin`` (v2 ``/api/v2/spot/account/assets``)."""
        row = {"available": str(available), "frozen": str(frozen)}
        self.book.mutate(lambda b: b.spot.__setitem__(coin.upper(), row))

    def set_unified(self, **fields: Any) -> None:
        """The unified account's ``/api/v3/account/assets`` fields (``mmr="1900"``)."""
        self.book.mutate(lambda b: b.unified.update({k: str(v) for k, v in fields.items()}))

    def random_walk(self, steps: int = 1, *, drift_pct: float = 0.5, vol_pct: float = 0.3) -> None:
        """Seeded: drift each mark price ``drift_pct`` % per step toward liquidation."""
        for _ in range(steps):
            self.book.walk(self.rng, drift_pct, vol_pct)

    # ------------------------------------------------------------------ faults

    def inject(
        self,
        kind: str,
        *,
        count: int | None = None,
        path: str = "*",
        retry_after: str | float | None = None,
        status: int | None = None,
        code: str | None = None,
        seconds: float = 30.0,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer requests on paths matching ``path`` with fault ``kind`` (see the module
        docstring) ``count`` times (None: until cleared). ``raw`` sends ``body`` as is."""
        ra = None if retry_after is None else str(retry_after)
        with self._lock:
            self._faults.append(Fault(kind, path, count, ra, status, code, seconds, body, headers))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for f in self._faults:
                if fnmatch.fnmatchcase(path, f.path):
                    if f.count is not None:
                        f.count -= 1
                        if f.count <= 0:
                            self._faults.remove(f)
                    return f
        return None

    @property
    def requests(self) -> list[Logged]:
        """The latest ``MAX_LOGGED`` requests, oldest first: a copy, so a test may iterate it
        while the server thread keeps logging (iterating a deque being appended to raises)."""
        with self._lock:
            return list(self._logged)

    def log(self, path: str, query: str, status: int) -> None:
        with self._lock:
            self._logged.append(Logged(path, query, status))

    def paths(self) -> list[str]:
        with self._lock:
            return [r.path for r in self._logged]

    # ------------------------------------------------------------------ routing

    def route(self, path: str, params: dict[str, str]) -> Route:
        """A builder of the response ``data`` (with a cache key), or an error code. A demo key
        reads the book's normal product types (Bitget's demo trading), a live key its ``S*``
        ones (the older demo scheme): the book itself does not tell them apart."""
        b = self.book
        if path == "/api/v2/public/time":
            return lambda: {"serverTime": str(self.now_ms())}
        if path == "/api/spot/v1/public/time":
            return lambda: str(self.now_ms())
        if path == "/api/v2/mix/market/contracts":
            pt = params.get("productType", "USDT-FUTURES").upper()
            return self._cached(("contracts", pt), lambda: contract_rows(b, pt))
        if path == "/api/v2/mix/position/all-position":
            pt = params.get("productType", "").upper()
            if not pt:
                return "40017"
            coin = params.get("marginCoin", "").upper() or None
            return self._cached(("v2", pt, coin), lambda: b.rows("v2", pt, coin))
        if path == "/api/v2/mix/account/accounts":
            pt = params.get("productType", "").upper()
            return self._cached(("v2a", pt), lambda: account_rows(b, pt, v1=False))
        if path == "/api/v2/spot/account/assets":  # the spot account (hints, DESIGN 11)
            asked = params.get("coin", "").upper()
            return self._cached(("spot", asked), lambda: spot_rows(b, asked))
        if path in ("/api/mix/v1/position/allPosition-v2", "/api/mix/v1/account/accounts"):
            v1_pt = V1_PRODUCT_TYPES.get(params.get("productType", "").lower())
            if v1_pt is None:
                return "40017"
            if path.endswith("accounts"):
                return self._cached(("v1a", v1_pt), lambda: account_rows(b, v1_pt, v1=True))
            coin = params.get("marginCoin", "").upper() or None
            return self._cached(("v1", v1_pt, coin), lambda: b.rows("v1", v1_pt, coin))
        return self._route_v3(path, params)

    def _route_v3(self, path: str, params: dict[str, str]) -> Route:
        b = self.book
        if path == "/api/v3/position/current-position":
            pt = params.get("category", "")
            if pt not in V3_CATEGORIES:  # missing, lower case or a demo type: the v3 check
                return "400172"
            return self._cached(("v3", pt), lambda: {"list": b.rows("v3", pt, None)})
        if path == "/api/v3/account/assets":
            return self._cached(("v3a",), lambda: b.unified)
        if path == "/api/v3/account/settings":
            return lambda: {
                "accountMode": self.account_mode,
                "assetMode": "union" if b.asset_mode == "union" else "single",
                "holdMode": "hedge_mode",
                "symbolConfigList": [],
                "coinConfigList": [],
            }
        return self._route_fills(path, params)

    def _cached(self, key: tuple[Any, ...], build: Callable[[], Any]) -> Callable[[], Any]:
        return lambda: Raw(self.book.rendered(key, build))
