"""The JSON Schema and ``check`` agree: generated files are valid for both or for neither.

Why jsonschema (test extra only): the schema uses draft 2020-12 (``$ref``, ``if/then/else``,
``anyOf``, ``not``, lookahead patterns); only a real validator of that draft tells whether an
editor would accept a file. Each generated file is the full example below with one or more
values changed to something on either side of one of check's minimums, enums or patterns.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskwatch.config import load as config
from riskwatch.config.schema import json_schema
from riskwatch.errors import ConfigError

jsonschema = pytest.importorskip("jsonschema")
VALIDATOR = jsonschema.Draft202012Validator(json_schema())
DELETE = object()

BASE: dict[str, Any] = {
    "exchange": {
        "api": "v2",
        "base_url": "https://api.bitget.com",
        "fallback_url": None,
        "product_types": ["USDT-FUTURES"],
        "margin_coin": "USDT",
        "demo": False,
        "poll_interval": "10s",
        "stale_after": "2m",
        "timeout": "10s",
    },
    "send_ttl": "6h",
    "heartbeat": "24h",
    "heartbeat_url": "https://hc-ping.com/abc",
    "metrics": {"listen": "127.0.0.1:9464"},
    "channels": {"phone": ["console://"], "team": "console://stderr"},
    "defaults": {
        "channels": ["phone"],
        "repeat": "30m",
        "send_resolved": True,
        "for": "0s",
        "hysteresis": 0,
        "worsen_by": None,
    },
    "rules": [
        {
            "name": "near-liq",
            "metric": "liq_gap_pct",
            "op": "<",
            "warning": 15,
            "critical": 5,
            "hysteresis": 1,
            "for": 0,
            "repeat": "10m",
            "worsen_by": 2,
            "match": {"symbol": "BTC*", "side": "long", "product_type": "usdt-futures"},
            "channels": ["phone", "team"],
        },
        {
            "name": "acct",
            "scope": "account",
            "metric": "crossedRiskRate",
            "op": ">=",
            "warning": 0.5,
            "match": {"margin_coin": ["USDT", "USDC"]},
        },
    ],
}

E, D, R0, R1 = ("exchange",), ("defaults",), ("rules", 0), ("rules", 1)
# (where, value): one change each; both sides of every constraint the schema can carry.
MUTATIONS: list[tuple[tuple[Any, ...], Any]] = [
    *[((*E, "poll_interval"), v) for v in ("0", 0, "0s", "0.5s", "1s", "1m", "1h30m", "5 s")],
    *[((*E, "stale_after"), v) for v in ("0m", "1s", "30", 30)],
    *[((*E, "timeout"), v) for v in ("0.05s", "0.1s", "2s", "0")],
    *[(("heartbeat",), v) for v in ("59s", "0m59s", "60s", "1m", "100s", None, "0")],
    *[(("send_ttl",), v) for v in ("0s", "1s", "2d")],
    *[((*D, "repeat"), v) for v in ("0", 0, "0s", "5 minutes", "1h", True)],
    *[((*D, "hysteresis"), v) for v in (-1, 0, 2.5, "1")],
    *[((*D, "worsen_by"), v) for v in (0, -1, 0.5, None)],
    *[((*D, "send_resolved"), v) for v in ("yes", False)],
    *[((*R0, "hysteresis"), v) for v in (-0.5, 0)],
    *[((*R0, "worsen_by"), v) for v in (0, 3)],
    *[((*R0, "op"), v) for v in ("=<", "<=", "", "lt")],  # ">": critical order, check only
    *[((*R0, "scope"), v) for v in ("acct", "position")],
    *[((*R0, "metric"), v) for v in ("nope", "marginRatio", "crossedRiskRate")],
    *[((*R1, "metric"), v) for v in ("liq_gap_pct", "accountEquity")],
    *[((*R0, "name"), v) for v in ("Bad Name", "riskwatch-x", "ok_name-2", "")],
    *[((*R0, "match", "side"), v) for v in ("longg", "LONG", " short ", "l*", ["long", "x"])],
    *[((*R0, "match", "symbol"), v) for v in ("", ["BTC*", "ETH*"], "  ")],
    *[((*R0, "match", "product_type"), v) for v in ("umcbl", "FOO")],
    ((*R1, "match", "symbol"), "BTC*"),
    ((*R0, "match", "bogus"), "x"),
    ((*R0, "warning"), DELETE),
    ((*R0, "bogus"), 1),
    ((*R0, "warning"), "five"),
    *[((*E, "product_types"), v) for v in ([], "usdt-futures", ["umcbl", "dmcbl"], ["FOO"])],
    *[((*E, "api"), v) for v in ("v4", "auto", "v1", "V2")],
    *[((*E, "base_url"), v) for v in ("ftp://x", "https://", "https://h", "api.bitget.com")],
    *[((*E, "demo"), v) for v in ("no", True)],
    *[((*E, "margin_coin"), v) for v in ("", None, "usdc")],
    *[(("metrics", "listen"), v) for v in ("[::1]:9464", "::1:9464", "h:0", "h:65536", "h")],
    *[(("heartbeat_url",), v) for v in ("hc-ping.com/x", "https://x/y", None)],
    *[(("channels", "phone"), v) for v in ([], "console://x", "no-scheme", ["json://h/"])],
    (("channels", "bad name"), ["console://"]),
    (("state_dir",), "  "),
    (("state_dir",), "state"),
    (("bogus",), 1),
]


def mutated(changes: list[tuple[tuple[Any, ...], Any]]) -> dict[str, Any]:
    doc = copy.deepcopy(BASE)
    for where, value in changes:
        parent = doc
        for key in where[:-1]:
            parent = parent[key]
        if value is DELETE:
            parent.pop(where[-1], None)
        else:
            parent[where[-1]] = value
    return doc


def verdicts(doc: dict[str, Any], tmp_path: Path) -> tuple[bool, bool, list[str]]:
    path = tmp_path / "rules.yaml"
    path.write_text(json.dumps(doc))  # JSON is YAML: no quoting surprises in the generator
    try:
        config.load(str(path), environ={})
        problems: list[str] = []
    except ConfigError as exc:
        problems = list(exc.problems)
    schema_errors = [e.message for e in VALIDATOR.iter_errors(doc)]
    return not schema_errors, not problems, problems + schema_errors


def test_the_base_file_is_valid_for_both(tmp_path: Path) -> None:
    assert verdicts(mutated([]), tmp_path)[:2] == (True, True)


@pytest.mark.parametrize(("where", "value"), MUTATIONS, ids=lambda x: repr(x)[:40])
def test_one_change_is_judged_alike_by_schema_and_check(tmp_path: Path, where, value) -> None:
    schema_ok, check_ok, why = verdicts(mutated([(where, value)]), tmp_path)
    assert schema_ok == check_ok, (where, value, why)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.sampled_from(MUTATIONS), min_size=2, max_size=4))
def test_several_changes_are_judged_alike(tmp_path: Path, changes) -> None:
    schema_ok, check_ok, why = verdicts(mutated(changes), tmp_path)
    assert schema_ok == check_ok, (changes, why)
