"""Bad input: hypothesis-fuzzed exchange payloads and rules files.

Whatever Bitget sends, normalisation returns positions and one warning per skipped row, or a
``TransientError`` naming the endpoint; whatever the rules file holds, ``config.load`` returns a
Config or raises ``ConfigError`` with located one-line problems. Never another exception.
"""

from __future__ import annotations

import string
from decimal import Decimal

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskwatch.config import load as config
from riskwatch.errors import ConfigError, TransientError
from riskwatch.exchange.normalise import accounts as normalise_accounts
from riskwatch.exchange.normalise import positions as normalise

pytestmark = pytest.mark.reliability

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ENDPOINT = "/api/v2/mix/position/all-position"

V2_FIELDS = [
    "marginCoin",
    "symbol",
    "holdSide",
    "openDelegateSize",
    "marginSize",
    "available",
    "locked",
    "total",
    "leverage",
    "achievedProfits",
    "openPriceAvg",
    "marginMode",
    "posMode",
    "unrealizedPL",
    "liquidationPrice",
    "keepMarginRate",
    "markPrice",
    "marginRatio",
    "breakEvenPrice",
    "takeProfit",
    "stopLoss",
    "cTime",
    "uTime",
]
V1_FIELDS = [
    "symbol",
    "marginCoin",
    "holdSide",
    "margin",
    "available",
    "locked",
    "total",
    "leverage",
    "unrealizedPL",
    "unrealizedPLR",
    "liquidationPrice",
    "keepMarginRate",
    "markPrice",
    "marketPrice",
    "averageOpenPrice",
    "marginMode",
    "holdMode",
]
V3_FIELDS = [
    "category",
    "symbol",
    "marginCoin",
    "holdMode",
    "posSide",
    "marginMode",
    "positionBalance",
    "available",
    "frozen",
    "total",
    "leverage",
    "avgPrice",
    "unrealisedPnl",
    "liquidationPrice",
    "mmr",
    "profitRate",
    "markPrice",
]

numbers_as_text = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.sampled_from(["", "0", "-0", "1e999", "-1e-999", "NaN", "inf", " 1", "1,5", "0x10"]),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    numbers_as_text,
    st.text(max_size=12),
    st.sampled_from(["long", "short", "LONG", "buy", "USDT", "BTCUSDT_UMCBL", "crossed"]),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


def rows_of(fields: list[str]):
    row = st.dictionaries(
        st.sampled_from(fields) | st.text(max_size=6), values, max_size=len(fields)
    )
    # Mostly rows near the real shape (all fields, some bent), plus arbitrary junk rows.
    full = st.fixed_dictionaries({f: st.one_of(numbers_as_text, scalars) for f in fields})
    return st.lists(st.one_of(full, row, values), max_size=8)


def _check_positions(shape: str, rows: object, ledger) -> None:
    try:
        out, warnings = normalise.positions(shape, rows, "USDT-FUTURES", ENDPOINT)
    except TransientError as exc:
        assert not isinstance(rows, list)
        assert ENDPOINT in str(exc)
        ledger.record("input", faults=1)
        return
    assert isinstance(rows, list)
    assert len(out) + len(warnings) <= len(rows)
    for p in out:
        assert p.total > 0, "zero-size legs are not positions"
        assert p.side in ("long", "short")
        assert isinstance(p.mark_price, Decimal)
        assert p.liquidation_price is None or p.liquidation_price > 0
        # Engine, render and sorting use these as text: null or a number would crash them.
        assert p.symbol.__class__ is str and p.symbol, f"bad symbol {p.symbol!r}"
        assert p.margin_coin.__class__ is str and p.margin_coin, f"bad coin {p.margin_coin!r}"
    for w in warnings:
        # One line each: a symbol carrying a newline must not forge log lines.
        assert "\n" not in w and "\r" not in w, f"multi-line skip warning: {w!r}"
        assert ENDPOINT in w
    ledger.record("input", faults=len(warnings))


@FUZZ
@given(rows=st.one_of(rows_of(V2_FIELDS), values))
def test_v2_rows_never_crash(rows, ledger) -> None:
    _check_positions("v2", rows, ledger)


@FUZZ
@given(rows=st.one_of(rows_of(V1_FIELDS), values))
def test_v1_rows_never_crash(rows, ledger) -> None:
    _check_positions("v1", rows, ledger)


@FUZZ
@given(data=st.one_of(st.fixed_dictionaries({"list": rows_of(V3_FIELDS)}), values))
def test_v3_rows_never_crash(data, ledger) -> None:
    try:
        rows = normalise.v3_rows(data, ENDPOINT)
    except TransientError:
        assert not isinstance(data, dict)
        ledger.record("input", faults=1)
        return
    _check_positions("v3", rows, ledger)


@FUZZ
@given(
    rows=st.one_of(
        st.lists(
            st.dictionaries(
                st.sampled_from(
                    [
                        "marginCoin",
                        "accountEquity",
                        "available",
                        "crossedRiskRate",
                        "equity",
                        "crossRiskRate",
                    ]
                ),
                values,
            )
        ),
        values,
    )
)
def test_account_rows_never_crash(rows, ledger) -> None:
    for shape in ("v1", "v2"):
        try:
            out, warnings = normalise_accounts.accounts(shape, rows, "USDT-FUTURES", ENDPOINT)
        except TransientError:
            assert not isinstance(rows, list)
            continue
        assert all(a.margin_coin for a in out)
        ledger.record("input", faults=len(warnings))


# --------------------------------------------------------------------------- rules files

KEYS = [
    "exchange",
    "rules",
    "channels",
    "defaults",
    "state_dir",
    "send_ttl",
    "heartbeat",
    "name",
    "metric",
    "op",
    "warning",
    "critical",
    "hysteresis",
    "for",
    "repeat",
    "worsen_by",
    "match",
    "symbol",
    "side",
    "scope",
    "message",
    "api",
    "base_url",
    "product_types",
    "poll_interval",
    "stale_after",
    "phone",
]
yaml_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=True),
        st.text(max_size=10),
        st.sampled_from(
            [
                "liq_gap_pct",
                "<",
                ">=",
                "10s",
                "5m",
                "-1s",
                "${UNSET_VAR}",
                "{symbol}",
                "{x.y}",
                "{0}",
                "console://",
                "USDT-FUTURES",
                "umcbl",
                "BTC*",
                "auto",
                "v3",
            ]
        ),
    ),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)
VALID = {
    "exchange": {"base_url": "http://127.0.0.1:9", "poll_interval": "5s"},
    "channels": {"phone": ["console://"]},
    "defaults": {"channels": ["phone"]},
    "rules": [{"name": "near", "metric": "liq_gap_pct", "op": "<", "warning": 15}],
}


def _mutate(doc: dict, path: list[str], value: object) -> dict:
    out = yaml.safe_load(yaml.safe_dump(doc))
    node = out
    for key in path[:-1]:
        nxt = node.get(key) if isinstance(node, dict) else None
        if not isinstance(nxt, dict):
            break
        node = nxt
    if isinstance(node, dict):
        node[path[-1]] = value
    return out


def _load(tmp_path, text: str, ledger) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        cfg = config.load(str(path), environ={"STATE_DIRECTORY": str(tmp_path)})
    except ConfigError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert "Traceback" not in problem
        ledger.record("input", faults=1)
    else:
        assert cfg.path == str(path)


@FUZZ
@given(doc=yaml_values)
def test_random_yaml_documents(tmp_path_factory, doc, ledger) -> None:
    _load(tmp_path_factory.mktemp("cfg"), yaml.safe_dump(doc), ledger)


@FUZZ
@given(
    path=st.lists(st.sampled_from(KEYS), min_size=1, max_size=3),
    value=yaml_values,
    rule=st.dictionaries(st.sampled_from(KEYS), yaml_values, max_size=5),
)
def test_mutated_valid_files(tmp_path_factory, path, value, rule, ledger) -> None:
    doc = _mutate(VALID, path, value)
    if isinstance(doc.get("rules"), list):
        doc["rules"].append({**VALID["rules"][0], "name": "other", **rule})
    _load(tmp_path_factory.mktemp("cfg"), yaml.safe_dump(doc), ledger)


@FUZZ
@given(text=st.text(alphabet=string.printable + "\t:-[]{}&*!|>'\"%@`#,?\u00e9\u2028", max_size=300))
def test_random_text(tmp_path_factory, text, ledger) -> None:
    _load(tmp_path_factory.mktemp("cfg"), text, ledger)
