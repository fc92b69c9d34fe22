"""A failing exchange is one line with its cause, and an outage is said once at each end."""

from __future__ import annotations

import logging
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from riskwatch.errors import Unreachable
from riskwatch.exchange.fake.server import FakeBitget
from riskwatch.exchange.transport import Transport
from riskwatch.model import ExchangeSettings
from tests.exchange_support import CREDS, FakeClock, client, seed_fixture_positions

POS = "/api/v2/mix/position/all-position"
PARAMS = {"productType": "USDT-FUTURES"}


def one_attempt(base_url: str, **kw) -> str:
    """The Unreachable message of one unsigned GET to ``base_url`` (no retry: tiny budget)."""
    clock = FakeClock()
    settings = ExchangeSettings(base_url=base_url, fallback_url=None, timeout=1.0, **kw)
    t = Transport(settings, CREDS, clock=clock, sleep=clock.sleep)
    with pytest.raises(Unreachable) as info:
        t.get(POS, PARAMS, bucket="all-position", signed=False, deadline=clock() + 0.01)
    t.close()
    text = str(info.value)
    assert "\n" not in text and text.startswith(POS)
    return text


def test_a_name_that_does_not_resolve_says_so(monkeypatch) -> None:
    def no_dns(host, *a, **kw):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    assert "name not resolved: api.example.test (DNS)" in one_attempt("https://api.example.test")


def test_a_refused_connection_says_so() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again below: nothing listens there
    assert f"connection refused by 127.0.0.1:{port}" in one_attempt(f"http://127.0.0.1:{port}")


def test_a_silent_host_times_out_after_the_timeout() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(4)  # accepts in the kernel, never answers
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
        assert "timed out after 1 s: no complete answer from 127.0.0.1:" in one_attempt(url)


def test_tls_to_a_plain_http_server_is_a_tls_protocol_error() -> None:
    with FakeBitget() as fake:
        msg = one_attempt(fake.url.replace("http://", "https://"))
    assert "TLS protocol error with 127.0.0.1:" in msg and "wrong version number" in msg


@pytest.fixture
def self_signed(tmp_path: Path) -> Iterator[str]:
    """An https URL served with a self-signed certificate (one handshake per connection)."""
    key, cert = tmp_path / "k.pem", tmp_path / "c.pem"
    try:
        subprocess.run(
            [
                *("openssl", "req", "-x509", "-newkey", "ec", "-nodes", "-days", "1"),
                *("-pkeyopt", "ec_paramgen_curve:prime256v1", "-subj", "/CN=127.0.0.1"),
                *("-keyout", str(key), "-out", str(cert)),
            ],
            check=True,
            capture_output=True,
        )
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("openssl is needed to make a self-signed certificate")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv = socket.create_server(("127.0.0.1", 0))
    srv.settimeout(10)

    def serve() -> None:
        try:
            conn, _ = srv.accept()
            with ctx.wrap_socket(conn, server_side=True):
                pass
        except (OSError, ssl.SSLError):
            pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{srv.getsockname()[1]}"
    srv.close()


def test_an_untrusted_certificate_is_named(self_signed: str) -> None:
    msg = one_attempt(self_signed)
    assert "TLS certificate of 127.0.0.1:" in msg and "not accepted: self-signed" in msg, msg


def test_an_http_error_page_is_named_with_a_short_excerpt() -> None:
    with FakeBitget() as fake:
        page = b"<html><head><title>502 Bad Gateway</title></head><body>" + b"x" * 500
        fake.inject("raw", status=502, body=page)
        msg = one_attempt(fake.url)
    assert "HTTP 502, not Bitget's JSON: '502 Bad Gateway xxx" in msg and len(msg) < 200, msg


def test_an_outage_is_one_warning_then_debug_then_one_info(caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="riskwatch")
    with FakeBitget() as fake:
        seed_fixture_positions(fake)
        clock = FakeClock()
        c = client(fake, clock, fallback_url=fake.url)  # a fallback host: switches are retries
        fake.inject("5xx", status=503)
        for _ in range(3):  # three failing cycles
            with pytest.raises(Unreachable) as info:
                c.fetch_snapshot()
        loud = [r for r in caplog.records if r.levelno >= logging.INFO]
        assert [r.levelname for r in loud] == ["WARNING"], [r.getMessage() for r in loud]
        assert "exchange unreachable: " in loud[0].getMessage()
        assert "HTTP 503" in loud[0].getMessage() and "HTTP 503" in str(info.value)
        assert any("retrying" in r.getMessage() for r in caplog.records)  # at DEBUG
        fake.clear_faults()
        clock.t += 180
        caplog.clear()
        c.fetch_snapshot()
        c.close()
    loud = [(r.levelname, r.getMessage()) for r in caplog.records if r.levelno >= logging.INFO]
    assert len(loud) == 1 and loud[0][0] == "INFO", loud
    assert loud[0][1].startswith("exchange answers again: recovered after 3m"), loud  # + backoffs


def test_one_product_type_failing_is_one_outage_not_a_flap(caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="riskwatch")
    with FakeBitget() as fake:
        seed_fixture_positions(fake)
        clock = FakeClock()
        c = client(fake, clock)
        s = replace(c.settings)
        assert s.product_types == ("USDT-FUTURES",)
        fake.inject("5xx", path="*/accounts")  # positions answer, accounts do not
        for _ in range(3):
            c.fetch_snapshot()
        c.close()
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "accounts" in warnings[0].getMessage()
    assert not any("recovered" in r.getMessage() for r in caplog.records)


def test_a_request_not_made_again_does_not_hold_an_outage_open(caplog) -> None:
    from riskwatch.exchange.outage import Outage

    caplog.set_level(logging.INFO, logger="riskwatch")
    clock = FakeClock()
    outage = Outage(clock, window=30)
    outage.failed("probe", "probe: refused")  # made once, at start, never again
    outage.failed("positions", "positions: refused")
    clock.t += 10
    outage.answered("positions")
    assert outage.ongoing  # the probe failed only 10 s ago
    clock.t += 25
    outage.answered("positions")
    assert not outage.ongoing
    assert [r.getMessage() for r in caplog.records][-1].endswith("recovered after 35s")
