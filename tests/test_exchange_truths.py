"""DESIGN section 17 against the Bitget-faithful simulator: demo keys, refusals, account mode
transitions, unified-account risk, union mode, COIN-M on v3, raw-query signing, the fallback."""

from __future__ import annotations

import json
import logging
from decimal import Decimal

import pytest
import requests

from riskwatch.cli import positions
from riskwatch.config import load as config
from riskwatch.core import metrics
from riskwatch.errors import AuthError, ConfigError, ExchangeError, Unreachable
from riskwatch.exchange import codes
from riskwatch.exchange.accountmode import InTransition
from riskwatch.exchange.fake.gate import READ, UTA_MGT
from riskwatch.exchange.fake.server import FakeBitget
from riskwatch.exchange.transport import Transport
from riskwatch.model import Config, ExchangeSettings
from tests.exchange_support import CREDS, FakeClock, client, seed_fixture_positions, settings

POS = "/api/v2/mix/position/all-position"


@pytest.fixture
def fx():
    with FakeBitget() as fake:
        seed_fixture_positions(fake)
        yield fake


@pytest.fixture
def demo_fx():
    with FakeBitget(demo_key=True) as fake:
        seed_fixture_positions(fake)
        yield fake


# --------------------------------------------------------------------------- demo trading


def test_demo_key_works_with_demo_true_and_nothing_else(demo_fx) -> None:
    snap = client(demo_fx, demo=True).fetch_snapshot()
    assert len(snap.positions) == 3 and snap.fetched == {"USDT-FUTURES"}
    assert all("productType=USDT-FUTURES" in r.query for r in demo_fx.requests if r.path == POS)


def test_demo_s_product_types_are_aliases_said_once(demo_fx, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="riskwatch.exchange"):
        c = client(demo_fx, demo=True, product_types=("SUSDT-FUTURES", "USDT-FUTURES"))
        c.fetch_snapshot()
        c.fetch_snapshot()
    assert c.settings.product_types == ("USDT-FUTURES",)
    assert caplog.text.count("SUSDT-FUTURES as USDT-FUTURES") == 1
    assert not any("SUSDT" in r.query for r in demo_fx.requests)  # never sent with the header


@pytest.mark.parametrize(
    ("key_is_demo", "demo", "fix"), [(True, False, "demo: true"), (False, True, "demo: false")]
)
def test_40099_says_which_side_of_the_demo_switch_to_change(key_is_demo, demo, fix, caplog) -> None:
    with FakeBitget(demo_key=key_is_demo) as fx, pytest.raises(AuthError) as info:
        client(fx, demo=demo, api="v2").fetch_snapshot()
    assert info.value.code == "40099" and f"exchange.{fix}" in info.value.explanation
    assert "exchange environment is incorrect" in info.value.explanation


def test_header_with_an_s_product_type_is_40099_even_on_public_paths(demo_fx) -> None:
    url = f"{demo_fx.url}/api/v2/mix/market/contracts?productType=SUSDT-FUTURES"
    assert requests.get(url, timeout=5).json()["code"] == "00000"  # the older scheme: no header
    answer = requests.get(url, headers={"paptrading": "1"}, timeout=5).json()
    assert answer["code"] == "40099" and answer["msg"] == "exchange environment is incorrect"


# --------------------------------------------------------------------------- refusals


def test_v3_40014_names_the_uta_permission_the_endpoint_needs() -> None:
    scopes = frozenset({READ, UTA_MGT})
    with (
        FakeBitget(account_mode="unified", permissions=scopes) as fx,
        pytest.raises(AuthError) as info,
    ):
        client(fx, api="v3").fetch_snapshot()
    exc = info.value
    assert exc.code == "40014" and '"UTA trade (read)" permission' in exc.explanation
    assert "/api/v3/position/current-position" in exc.explanation
    assert exc.explanation.endswith("need UTA trade (read) permissions")  # Bitget's msg kept


def test_40200_is_a_server_upgrade_retried_not_a_rate_limit(fx) -> None:
    fx.inject("code", code="40200", count=2, path=POS)
    assert len(client(fx, api="v2").fetch_snapshot().positions) == 3
    err = codes.classify("40200", "server upgrade", POS, status=400)
    assert type(err).__name__ == "TransientError"


def test_400172_is_our_bug_named_with_its_path(fx) -> None:
    fx.set_account_mode("unified")
    t = Transport(settings(fx), CREDS, sleep=lambda s: None)
    with pytest.raises(ExchangeError) as info:
        t.get(
            "/api/v3/position/current-position", {"category": "SUSDT-FUTURES"}, bucket="v3-position"
        )
    exc = info.value
    assert not isinstance(exc, AuthError) and exc.code == "400172"
    assert "/api/v3/position/current-position" in str(exc) and "riskwatch bug" in str(exc)


def test_a_hostile_msg_or_code_stays_one_short_line_naming_the_endpoint(fx) -> None:
    page = "<html>\n<body>\n" + "Access denied. " * 300 + "\n</body></html>"
    body = json.dumps({"code": "40014", "msg": page, "data": None}).encode()
    fx.inject("raw", path=POS, body=body)
    t = Transport(settings(fx), CREDS, sleep=lambda s: None)
    with pytest.raises(AuthError) as info:
        t.get(POS, {"productType": "USDT-FUTURES"}, bucket="all-position")
    said = [str(info.value), info.value.explanation or ""]
    assert all("\n" not in text and len(text) < 600 for text in said), said
    assert POS in said[0] and "Read permission" in said[1]
    err = codes.classify("4001\n4\n" + "9" * 100, "a\nb", POS, status=400)
    assert "\n" not in str(err) and len(str(err)) < 200


# --------------------------------------------------------------------------- account mode


def test_upgrading_is_said_once_and_polling_stays_on_v2_until_it_settles(fx, caplog) -> None:
    fx.set_account_mode("upgrading")  # paths still answer as the classic account
    c = client(fx)
    with caplog.at_level(logging.INFO, logger="riskwatch.exchange"):
        first, second = c.fetch_snapshot(), c.fetch_snapshot()
        assert first.account_transition == second.account_transition == "upgrading"
        assert c.api == "v2" and len(second.positions) == 3
        text = positions.render(second, Config(path="x"))
        assert "account mode in transition: Bitget says upgrading" in text
        fx.set_account_mode("unified")
        settled = c.fetch_snapshot()
    assert settled.account_transition is None and c.api == "v3" and len(settled.positions) == 3
    assert caplog.text.count("polling goes on with the v2 API") == 1
    assert "the account mode settled: unified (was upgrading)" in caplog.text


def test_a_refusal_mid_transition_does_not_flip_apis(fx) -> None:
    fx.set_account_mode("switching")  # paths answer as unified: v2 is refused with 40085
    c = client(fx, account_mode="classic")
    for _ in range(2):
        with pytest.raises(InTransition) as info:
            c.fetch_snapshot()
        assert isinstance(info.value, Unreachable) and info.value.transition == "switching"
    assert c.api == "v2" and not any(p.startswith("/api/v3/position") for p in fx.paths())


def test_both_apis_refusing_by_account_mode_is_a_transition_not_a_refusal_or_a_flip() -> None:
    """Mid-migration, with a key the settings endpoint refuses (no UTA permissions), v2 says
    unified and v3 says classic: no riskwatch-auth with the wrong advice, no flip per poll;
    once one API answers, polling goes on there and the mode is reported once."""
    with FakeBitget(account_mode="upgrading", permissions=frozenset({READ})) as fx:
        seed_fixture_positions(fx)
        fx.inject("code", code="40085", path="/api/v2/mix/*")
        modes: list[str] = []
        c = client(fx, on_account_mode=modes.append)
        for _ in range(3):
            with pytest.raises(InTransition):
                c.fetch_snapshot()
        assert modes == [], "nothing settled: nothing remembered"
        fx.clear_faults()  # the upgrade went back to classic: v2 answers
        snap = c.fetch_snapshot()
    assert len(snap.positions) == 3 and snap.account_transition is None and c.api == "v2"
    assert modes == ["classic"]


# --------------------------------------------------------------------------- unified account


def test_v3_risk_rate_is_mmr_over_eff_equity_and_coin_m_is_usd_sized(fx) -> None:
    fx.set_account_mode("unified")
    fx.set_unified(mmr="1900", effEquity="9500", mgnRatio="0.5")
    fx.add_position(
        "BTCUSD",
        "long",
        product_type="COIN-FUTURES",
        margin_coin="BTC",
        total="0.01",
        mark="100000",
        margin_mode="isolated",
    )
    snap = client(fx, api="v3", product_types=("USDT-FUTURES", "COIN-FUTURES")).fetch_snapshot()
    (acc,) = snap.accounts
    assert acc.crossed_risk_rate == Decimal("0.2") and acc.mgn_ratio == Decimal("0.5")
    (coin_m,) = [p for p in snap.positions if p.product_type == "COIN-FUTURES"]
    assert coin_m.symbol == "BTCUSD" and coin_m.size_in_usd and coin_m.total == Decimal(1000)
    assert metrics.notional(coin_m) == 1000.0
    (row,) = fx.book.rows("v3", "COIN-FUTURES", None)
    assert row["symbol"] == "BTCUSD_CM" and row["total"] == "1000"


def test_v3_risk_rate_past_liquidation_stays_defined_so_a_firing_alert_does_not_resolve(fx):
    fx.set_account_mode("unified")
    c = client(fx, api="v3")
    fx.set_unified(mmr="1900", effEquity="-50")  # equity gone under the maintenance margin
    (acc,) = c.fetch_snapshot().accounts
    assert acc.crossed_risk_rate == Decimal(1), "past liquidation, never 'not reported'"
    fx.set_unified(mmr="0", effEquity="0")  # nothing held, nothing to keep: undefined
    (acc,) = c.fetch_snapshot().accounts
    assert acc.crossed_risk_rate is None


# --------------------------------------------------------------------------- union mode


def test_union_mode_rows_reach_the_metrics_and_positions(fx) -> None:
    fx.set_union(unionTotalMagin="87850", unionAvailable="86406", unionMm="5.78")
    snap = client(fx, api="v2").fetch_snapshot()
    (acc,) = snap.accounts
    assert acc.asset_mode == "union"
    values = dict(zip(metrics.ACCOUNT_METRICS, metrics.account_values(acc), strict=True))
    assert (values["unionTotalMargin"], values["unionAvailable"], values["unionMm"]) == (
        87850.0,
        86406.0,
        5.78,
    )
    text = positions.render(snap, Config(path="x"))
    assert "USDT-FUTURES is in multi-asset (union) mode" in text and "not the account's" in text


# --------------------------------------------------------------------------- signing, hosts


def test_the_raw_query_is_signed_and_the_simulator_checks_it_so(fx) -> None:
    params = {"productType": "USDT-FUTURES", "marginCoin": "US DT/é"}
    assert "marginCoin=US DT/é" in codes_free_raw(params)
    t = Transport(settings(fx), CREDS, sleep=lambda s: None)
    assert t.get(POS, params, bucket="all-position") == []  # 40009 if the encoded form were signed
    assert any("US%20DT" in r.query for r in fx.requests if r.path == POS)


def codes_free_raw(params: dict[str, str]) -> str:
    from riskwatch.exchange import signing

    assert signing.encode_query(params) != signing.raw_query(params)
    return signing.raw_query(params)


def test_fallback_is_off_by_default_and_probed_and_logged_once_per_outage(fx, caplog) -> None:
    assert ExchangeSettings().fallback_url is None
    with FakeBitget() as dead:
        dead_url = dead.url
    clock = FakeClock()
    with caplog.at_level(logging.DEBUG, logger="riskwatch.exchange"):
        c = client(fx, clock, base_url=dead_url, fallback_url="http://127.0.0.1:9")
        with pytest.raises(Unreachable):
            c.fetch_snapshot()  # the fallback does not answer its time endpoint: no switch
        assert "switching to the fallback" not in caplog.text
        c = client(fx, clock, base_url=dead_url, fallback_url=fx.url)
        for _ in range(3):
            c.fetch_snapshot()
    warnings = [
        r for r in caplog.records if r.levelno == logging.WARNING and "fallback" in r.getMessage()
    ]
    assert len(warnings) == 1
    assert any(r.path == "/api/v2/public/time" for r in fx.requests)


# --------------------------------------------------------------------------- config


def test_check_rejects_non_v3_categories_for_v3(tmp_path) -> None:
    body = (
        "exchange: {{api: v3, product_types: [SUSDT-FUTURES]{demo}}}\n"
        "channels: {{c: ['console://']}}\ndefaults: {{channels: [c]}}\nrules: []\n"
    )
    path = tmp_path / "rules.yaml"
    path.write_text(body.format(demo=""))
    with pytest.raises(ConfigError, match="the v3 API takes only USDT-FUTURES"):
        config.load(str(path), environ={"HOME": str(tmp_path)})
    path.write_text(body.format(demo=", demo: true"))
    assert config.load(str(path), environ={"HOME": str(tmp_path)}).exchange.demo is True
