"""Bitget account rows (v1, v2, v3) -> ``model.Account``: pure and forgiving.

Kept apart from ``normalise`` (positions) because accounts are few, off the hot path, and
forgiving in a different way: a bad field is ignored (``None``) with one warning instead of the
whole row being skipped, since one unreadable figure must not hide the others. Only a row
without its margin coin is skipped. An envelope whose ``data`` has the wrong shape is a
``TransientError`` naming the endpoint. Numbers are read by ``numbers`` like positions' are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from riskwatch.errors import TransientError
from riskwatch.exchange.normalise.numbers import ROW_ERRORS, opt
from riskwatch.exchange.normalise.positions import ALL, MAX_SYMBOL, RowWarning
from riskwatch.model import UNIFIED, Account

Row = Mapping[str, Any]

_V2_ACCOUNT = (
    ("account_equity", "accountEquity"),
    ("available", "available"),
    ("locked", "locked"),
    ("crossed_max_available", "crossedMaxAvailable"),
    ("isolated_max_available", "isolatedMaxAvailable"),
    ("max_transfer_out", "maxTransferOut"),
    ("crossed_risk_rate", "crossedRiskRate"),
    ("unrealized_pl", "unrealizedPL"),
    ("usdt_equity", "usdtEquity"),
    ("btc_equity", "btcEquity"),
    ("union_mm", "unionMm"),
    ("union_available", "unionAvailable"),
)
# Bitget's docs and example spell it unionTotalMagin; some SDKs add unionTotalMargin: either.
_UNION_TOTAL = ("unionTotalMagin", "unionTotalMargin")
_V1_ACCOUNT = (
    ("account_equity", "equity"),
    ("available", "available"),
    ("locked", "locked"),
    ("crossed_max_available", "crossMaxAvailable"),
    ("isolated_max_available", "fixedMaxAvailable"),
    ("max_transfer_out", "maxTransferOut"),
    ("crossed_risk_rate", "crossRiskRate"),
    ("unrealized_pl", "unrealizedPL"),
    ("usdt_equity", "usdtEquity"),
    ("btc_equity", "btcEquity"),
)
_V3_ACCOUNT = (
    ("account_equity", "accountEquity"),
    ("unrealized_pl", "unrealisedPnl"),
    ("usdt_equity", "usdtEquity"),
    ("btc_equity", "btcEquity"),
    ("eff_equity", "effEquity"),
    # mgnRatio ("margin ratio") has no documented formula: kept as its own metric. The risk
    # ratio rules use (crossedRiskRate) is built from documented fields in account_v3.
    ("mgn_ratio", "mgnRatio"),
    ("imr", "imr"),
    ("mmr", "mmr"),
    ("position_mgn_ratio", "positionMgnRatio"),
)


def _fields(
    r: Row, spec: Sequence[tuple[str, str]], endpoint: str, who: str, warnings: list[str]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for attr, key in spec:
        try:
            out[attr] = opt(r.get(key))
        except ROW_ERRORS:
            warnings.append(RowWarning(f"{endpoint}: {who}: {key} is not a number; ignored", None))
            out[attr] = None
    return out


def accounts(
    shape: str, rows: Any, product_type: str, endpoint: str
) -> tuple[list[Account], list[str]]:
    """v1/v2 account rows (a list, one per margin coin) of one product type."""
    if not isinstance(rows, list):
        raise TransientError(
            f"{endpoint}: expected a list of accounts, got {type(rows).__name__}",
            endpoint=endpoint,
        )
    spec = _V1_ACCOUNT if shape == "v1" else _V2_ACCOUNT
    out: list[Account] = []
    warnings: list[str] = []
    seen: set[str] = set()
    for r in rows:
        coin = r.get("marginCoin") if isinstance(r, Mapping) else None
        if not (isinstance(coin, str) and coin and len(coin) <= MAX_SYMBOL and coin.isprintable()):
            text = f"{endpoint}: skipped an account row: marginCoin is missing or not valid"
            if text not in warnings:
                warnings.append(RowWarning(text, ALL))
            continue
        if coin in seen:
            text = f"{endpoint}: the {coin} account is listed twice; the second row is ignored"
            warnings.append(RowWarning(text, None))
            continue
        seen.add(coin)
        values = _fields(r, spec, endpoint, f"{coin} account", warnings)
        extra: dict[str, Any] = {}
        if shape != "v1":
            key = next((k for k in _UNION_TOTAL if r.get(k) not in (None, "")), _UNION_TOTAL[0])
            extra = _fields(
                r, (("union_total_margin", key),), endpoint, f"{coin} account", warnings
            )
            mode = r.get("assetMode")
            extra["asset_mode"] = mode if mode in ("single", "union") else None
        out.append(Account(product_type=product_type, margin_coin=coin, **values, **extra))
    return out, warnings


def account_v3(data: Any, margin_coin: str, endpoint: str) -> tuple[Account, list[str]]:
    """The unified account (``/api/v3/account/assets``): one object, ``available`` and
    ``locked`` from the asset of ``margin_coin``."""
    if not isinstance(data, dict):
        raise TransientError(
            f"{endpoint}: expected an account object, got {type(data).__name__}",
            endpoint=endpoint,
        )
    warnings: list[str] = []
    values = _fields(data, _V3_ACCOUNT, endpoint, "unified account", warnings)
    values["crossed_risk_rate"] = risk_ratio(values["mmr"], values["eff_equity"])
    assets = data.get("assets")
    asset = (
        next((a for a in assets if isinstance(a, Mapping) and a.get("coin") == margin_coin), None)
        if isinstance(assets, list)
        else None
    )
    if asset is not None:
        values.update(
            _fields(
                asset,
                (("available", "available"), ("locked", "locked")),
                endpoint,
                f"{margin_coin} asset",
                warnings,
            )
        )
    return Account(product_type=UNIFIED, margin_coin=margin_coin, **values), warnings


def risk_ratio(mmr: Decimal | None, eff_equity: Decimal | None) -> Decimal | None:
    """A unified account's risk ratio, ``mmr / effEquity`` (both USD amounts, documented on
    ``/api/v3/account/assets``): 1.0 is liquidation. Effective equity gone to zero or below
    under a maintenance margin is past liquidation: 1 at least, never "undefined" (which
    would resolve a firing risk alert at the worst moment). None without a margin to keep."""
    if mmr is None or eff_equity is None or (eff_equity <= 0 and mmr <= 0):
        return None
    if eff_equity <= 0:
        return _PAST_LIQUIDATION
    return (mmr / eff_equity).quantize(_RATIO_PLACES).normalize()


_RATIO_PLACES = Decimal("1e-10")  # a ratio shown to 10 places, not Decimal's 28 digits
_PAST_LIQUIDATION = Decimal(1)
