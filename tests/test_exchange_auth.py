"""Refusals (exit-3 material), account modes and ``api: auto``, over real HTTP."""

from __future__ import annotations

import logging

import pytest

from riskwatch import logs
from riskwatch.errors import AuthError
from riskwatch.exchange.credentials import Credentials
from riskwatch.exchange.fake.http import ERR
from riskwatch.exchange.fake.server import FakeBitget
from tests.exchange_support import CREDS, SECRETS, client, seed_fixture_positions

WRONG = Credentials("bg_wrong_key_000111222", "wrong_secret_333444555", "wrong_pass_666777")


@pytest.fixture
def fx():
    with FakeBitget() as fake:
        seed_fixture_positions(fake)
        yield fake


def _refused(fx, caplog, **kw) -> AuthError:
    with caplog.at_level(logging.DEBUG), pytest.raises(AuthError) as info:
        client(fx, **kw).fetch_snapshot()
    exc = info.value
    text = " ".join([str(exc), exc.explanation, caplog.text, repr(kw.get("creds"))])
    for secret in (*SECRETS, WRONG.api_key, WRONG.api_secret, WRONG.passphrase):
        assert secret not in text
    return exc


@pytest.mark.parametrize(
    ("creds", "code", "phrase"),
    [
        (Credentials(WRONG.api_key, CREDS.api_secret, CREDS.passphrase), "40006", "BITGET_API_KEY"),
        (Credentials(CREDS.api_key, WRONG.api_secret, CREDS.passphrase), "40009", "SECRET"),
        (Credentials(CREDS.api_key, CREDS.api_secret, WRONG.passphrase), "40012", "PASSPHRASE"),
    ],
)
def test_wrong_credentials_are_refused_with_an_actionable_sentence(fx, caplog, creds, code, phrase):
    exc = _refused(fx, caplog, creds=creds)
    assert exc.code == code and phrase in exc.explanation
    assert exc.endpoint.startswith("/api/v2/mix/")


@pytest.mark.parametrize(
    ("code", "phrase"),
    [
        ("40037", "BITGET_API_KEY"),
        ("40036", "passphrase"),
        ("40014", "Read permission"),
        ("40018", "IP address"),
        ("40038", "whitelist"),
        ("30032", "set exchange.api: v2"),
        ("40085", "unified trading account mode"),
        ("40099", "exchange.demo: true"),
        ("40013", "status as abnormal"),
        ("40022", "restricted this account's business"),
        ("40023", "restricted this account's API access"),
        ("40024", "frozen"),
        ("40026", "disabled"),
        ("40041", "create a new read-only key"),
    ],
)
def test_every_refusal_code_names_what_to_do(fx, caplog, code, phrase) -> None:
    fx.inject("code", code=code, path="/api/v2/mix/*")
    exc = _refused(fx, caplog, api="v2")
    assert exc.code == code and phrase in exc.explanation
    assert "/api/v2/mix/position/all-position" in str(exc)
    # Bitget's own msg is kept after the explanation.
    assert exc.explanation.endswith(f"Bitget said: {ERR.get(code, 'error')}")


def test_unified_account_on_v2_says_set_v3_or_auto(fx, caplog) -> None:
    fx.set_account_mode("unified")
    exc = _refused(fx, caplog, api="v2")
    assert "exchange.api: v3 or auto" in exc.explanation
    assert [r.status for r in fx.requests if r.path.startswith("/api/v2/mix")] == [400]


def test_unified_refusal_comes_before_the_signature_check(fx, caplog) -> None:
    fx.set_account_mode("unified")
    assert _refused(fx, caplog, api="v2", creds=WRONG).code == "40085"


def test_v1_decommissioned(caplog) -> None:
    with FakeBitget(v1_enabled=False) as fx:
        exc = _refused(fx, caplog, api="v1")
    assert exc.code == "30032" and "exchange.api: v2" in exc.explanation


def test_classic_account_on_v3_is_refused(fx, caplog) -> None:
    exc = _refused(fx, caplog, api="v3")
    assert exc.code == "40084" and "classic account mode" in exc.explanation


def test_secrets_registered_are_masked_by_the_log_filter() -> None:
    logs.register_secret(FakeBitget.API_SECRET)
    assert FakeBitget.API_SECRET not in logs.redact(f"oops {FakeBitget.API_SECRET}")


# --------------------------------------------------------------------------- v3 and auto


def _gaps(snap):
    from riskwatch.core import metrics

    return sorted((p.symbol, p.side, metrics.liq_gap_pct(p) is None) for p in snap.positions)


def test_v3_lists_the_same_positions_as_v2(fx) -> None:
    classic = client(fx, api="v2").fetch_snapshot()
    fx.set_account_mode("unified")
    unified = client(fx, api="v3").fetch_snapshot()
    assert _gaps(unified) == _gaps(classic)
    assert unified.account_mode == "unified"
    (acc,) = unified.accounts
    assert acc.product_type == "unified" and acc.crossed_risk_rate is not None


@pytest.mark.parametrize("mode", ["unified", "hybrid"])
def test_auto_follows_account_settings_to_v3_once_and_reports_it(fx, caplog, mode) -> None:
    fx.set_account_mode(mode)
    modes: list[str] = []
    c = client(fx, on_account_mode=modes.append)
    with caplog.at_level(logging.WARNING):
        first = c.fetch_snapshot()
        second = c.fetch_snapshot()
    assert modes == ["unified"] and c.account_mode == "unified"
    assert _gaps(first) == _gaps(second) and len(first.positions) == 3
    assert sum("switching to the v3 API" in r.getMessage() for r in caplog.records) == 1
    assert f"accountMode {mode}" in caplog.text
    paths = [r.path for r in fx.requests]
    assert paths.count("/api/v3/account/settings") == 1  # asked once, not every poll
    assert not any(p.startswith("/api/v2/mix") for p in paths)  # no 40085 needed to find out


def test_auto_falls_back_to_40085_when_the_settings_tell_nothing(fx, caplog) -> None:
    fx.set_account_mode("unified")
    fx.inject("code", code="40014", path="/api/v3/account/settings")
    c = client(fx)
    with caplog.at_level(logging.WARNING):
        snap = c.fetch_snapshot()
    assert snap.account_mode == "unified" and len(snap.positions) == 3
    assert "Bitget answered 40085" in caplog.text
    assert [r.path for r in fx.requests].count("/api/v2/mix/position/all-position") == 1


def test_auto_with_remembered_unified_starts_on_v3(fx) -> None:
    fx.set_account_mode("unified")
    modes: list[str] = []
    client(fx, account_mode="unified", on_account_mode=modes.append).fetch_snapshot()
    assert not any(p.startswith("/api/v2/mix") for p in fx.paths())
    assert modes == ["unified"]


def test_auto_switches_back_to_v2_on_40084(fx) -> None:
    modes: list[str] = []
    c = client(fx, account_mode="unified", on_account_mode=modes.append)
    snap = c.fetch_snapshot()
    assert modes == ["classic"] and snap.account_mode == "classic" and len(snap.positions) == 3


def test_auto_reports_classic_after_first_good_fetch(fx) -> None:
    modes: list[str] = []
    c = client(fx, on_account_mode=modes.append)
    c.fetch_snapshot()
    c.fetch_snapshot()
    assert modes == ["classic"]


def test_explicit_v2_does_not_switch(fx, caplog) -> None:
    fx.set_account_mode("unified")
    _refused(fx, caplog, api="v2")
    assert not any(p.startswith("/api/v3") for p in fx.paths())
