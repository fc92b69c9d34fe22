"""Shared helpers for the exchange tests: a fake clock whose sleep advances it, and a client
bound to a running FakeBitget (real HTTP on 127.0.0.1, nothing mocked)."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

from riskwatch.exchange import build_client
from riskwatch.exchange.credentials import Credentials
from riskwatch.exchange.fake.server import FakeBitget
from riskwatch.model import ExchangeSettings

CREDS = Credentials(FakeBitget.API_KEY, FakeBitget.API_SECRET, FakeBitget.PASSPHRASE)
SECRETS = (FakeBitget.API_KEY, FakeBitget.API_SECRET, FakeBitget.PASSPHRASE)


class FakeClock:
    """Monotonic time that only moves when slept on: retry tests take no real seconds."""

    def __init__(self, start: float = 1000.0) -> None:
        self.t = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds


def settings(fx: FakeBitget, **kw: Any) -> ExchangeSettings:
    base = ExchangeSettings(base_url=fx.url, fallback_url=None, timeout=2.0, poll_interval=10.0)
    return replace(base, **kw)


def client(
    fx: FakeBitget,
    clock: FakeClock | None = None,
    *,
    creds: Credentials = CREDS,
    stop: threading.Event | None = None,
    account_mode: Any = None,
    on_account_mode: Any = None,
    rate_limit: bool = True,
    **kw: Any,
):
    clock = clock or FakeClock()
    return build_client(
        settings(fx, **kw),
        creds,
        clock=clock,
        sleep=clock.sleep,
        stop=stop,
        account_mode=account_mode,
        on_account_mode=on_account_mode,
        rate_limit=rate_limit,
    )


def seed_fixture_positions(fx: FakeBitget, product_type: str = "USDT-FUTURES") -> None:
    """Three positions with scripted liquidation prices: gaps 7.10 (short), 9.84 (long),
    none. (The fixture file's BTCUSDT short keeps Bitget's own 5,737,867 liquidation price;
    here the short is scripted close, so rules have something to fire on.)"""
    fx.add_position(
        "BTCUSDT",
        "short",
        total="0.0155",
        mark="93203.4",
        liquidation="99817.41",
        product_type=product_type,
    )
    fx.add_position(
        "ETHUSDT", "long", total="1", mark="2512.5", liquidation="2265.3", product_type=product_type
    )
    fx.add_position(
        "SOLUSDT", "long", total="10", mark="148", no_liquidation=True, product_type=product_type
    )
