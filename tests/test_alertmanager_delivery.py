"""Posting to Alertmanager: the sender against a local HTTP stand-in (``delivery.fake``), then
``run --once`` and ``test-notify`` through the CLI with the simulated exchange."""

from __future__ import annotations

import io
import json
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from riskwatch.cli import testnotify
from riskwatch.cli.main import main
from riskwatch.config import load as config
from riskwatch.delivery import workers
from riskwatch.delivery.alertmanager import AlertmanagerSender, masked
from riskwatch.delivery.fake import Receiver
from riskwatch.delivery.retry import Destination, RetryPolicy, deliver_pending
from riskwatch.errors import ConfigError, DeliveryError
from riskwatch.exchange.fake.server import FakeBitget
from riskwatch.model import Transition
from riskwatch.render import alertmanager as am
from riskwatch.service.wiring import wire
from riskwatch.store.db import Store

RULES = """\
exchange:
  base_url: {url}
  fallback_url: {url}
state_dir: {state}
alertmanager:
  urls: [{am1}, "${{AM2}}"]
  resend: 1m
  timeout: 2s
rules:
  - name: near-liquidation
    metric: liq_gap_pct
    op: "<"
    warning: 8
    critical: 4
    labels: {{team: desk}}
"""


@pytest.fixture(autouse=True)
def creds(monkeypatch):
    for name, value in FakeBitget.credentials_env().items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def quick(monkeypatch):
    """One attempt per cycle: a URL that is down fails at once instead of after ~4 s."""

    def one_attempt() -> RetryPolicy:
        return RetryPolicy(attempts=1)

    monkeypatch.setattr(workers, "RetryPolicy", one_attempt)
    monkeypatch.setattr(testnotify, "RetryPolicy", one_attempt)


def test_the_sender_posts_api_v2_alerts_and_reports_failures():
    with Receiver() as rx:
        sender = AlertmanagerSender(rx.http_url, timeout=2, clock=lambda: 1300.0)
        msg = am.probe_alert(1000.0, 60.0, "h")
        sender.send(msg.title, msg.body)
        (got,) = rx.received
        assert got.path == "/api/v2/alerts"
        (alert,) = got.data
        assert alert["labels"]["alertname"] == "riskwatch-test"
        assert alert["endsAt"] == am.rfc3339(1360.0), "moved by the 300 s the post waited"
        rx.fail(1, status=429, retry_after=7)
        with pytest.raises(DeliveryError) as err:
            sender.send(msg.title, msg.body)
        assert err.value.retry_after == 7 and "HTTP 429" in str(err.value)
        stale = am.probe_alert(900.0, 60.0, "h")  # queued before the one accepted
        sender.send(stale.title, stale.body)
        assert len(rx.received) == 1, "a post older than an accepted one is superseded"
        rx.down()
        with pytest.raises(DeliveryError, match="connection refused"):
            sender.send(msg.title, msg.body)
        with pytest.raises(DeliveryError, match="unreadable queued post"):
            sender.send("t", "not json")


def test_a_superseded_post_still_delivers_its_event():
    """A post that fell behind a newer one (it kept failing while the newer got through) must
    not re-fire its stale alerts, but its liquidation is told in no other post."""
    key = ("near-liquidation", "USDT-FUTURES", "BTCUSDT", "long", "default")
    liq = ("event:liquidated", "USDT-FUTURES", "BTCUSDT", "long", "default")
    firing = am.Entry(key, am.labels_for(key, "warning", "position"), "W", "", 800, None, 800)
    t = Transition(liq, "event", "critical", None, "liquidated", "", None, None, None, 850.0, ())
    event = am.event(t, "LIQUIDATED", 900.0, resend=60)
    stale = am.message([replace(firing, ends_at=1140.0), event], 900.0)
    with Receiver() as rx:
        sender = AlertmanagerSender(rx.http_url, timeout=2, clock=lambda: 1000.0)
        newer = am.probe_alert(950.0, 60.0, "h")
        sender.send(newer.title, newer.body)
        sender.send(stale.title, stale.body)
        assert len(rx.received) == 2, "the event of the superseded post was dropped"
        (alert,) = rx.received[1].data
        assert alert["labels"]["alertname"] == "liquidated" and "once" not in alert
        only_firing = am.message([replace(firing, ends_at=1140.0)], 900.0)
        sender.send(only_firing.title, only_firing.body)
        assert len(rx.received) == 2, "a stale firing set is never posted"


def test_a_password_in_the_url_is_never_shown():
    url = "http://riskwatch:s3cret-pass@127.0.0.1:9093/am"
    assert masked(url) == "http://riskwatch:***@127.0.0.1:9093/am"
    assert AlertmanagerSender(url, timeout=1).display() == masked(url)
    token = "http://tok3n-abc@127.0.0.1:9093"  # a token alone in the user name
    assert masked(token) == "http://***@127.0.0.1:9093"
    assert masked("http://[::1]:9093/am") == "http://[::1]:9093/am"


def rules_file(tmp_path: Path, fx: FakeBitget, am1: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES.format(url=fx.url, state=tmp_path / "state", am1=am1))
    return path


def test_run_once_posts_to_every_url_and_keeps_a_down_ones_post_across_a_restart(
    tmp_path, monkeypatch, quick
):
    with FakeBitget() as fx, Receiver() as am1, Receiver() as am2:
        fx.add_position("BTCUSDT", "long", mark="93500", liquidation="90000")
        monkeypatch.setenv("AM2", am2.http_url)
        rules = rules_file(tmp_path, fx, am1.http_url)
        am2.down()
        assert main(["run", "-c", str(rules), "--once"]) == 0
        (got,) = am1.received
        (alert,) = got.data
        assert alert["labels"] == {
            "alertname": "near-liquidation",
            "severity": "critical",
            "account": "default",
            "symbol": "BTCUSDT",
            "side": "long",
            "product_type": "USDT-FUTURES",
            "source": "riskwatch",
            "team": "desk",
        }
        assert alert["annotations"]["summary"].startswith("CRITICAL near-liquidation BTCUSDT")
        store = Store.open(str(tmp_path / "state"))
        assert [i.channel for i in store.undelivered()] == ["alertmanager"], "kept for AM2"
        store.close()
        am2.up()
        fx.set_mark("BTCUSDT", "99000")  # safe again: the next cycle resolves it
        assert main(["run", "-c", str(rules), "--once"]) == 0
        first, resolve = [r.data for r in am2.received]
        assert first[0]["labels"]["severity"] == "critical"
        assert first[0]["endsAt"] > first[0]["startsAt"], "the queued post still fires"
        assert resolve[0]["annotations"]["summary"].startswith("RESOLVED near-liquidation")
        assert [r.data for r in am1.received][1] == resolve
        store = Store.open(str(tmp_path / "state"))
        assert store.undelivered() == []
        store.close()


def test_test_notify_posts_a_test_alert_to_each_alertmanager(tmp_path, monkeypatch, capsys, quick):
    with FakeBitget() as fx, Receiver() as am1, Receiver() as am2:
        monkeypatch.setenv("AM2", am2.http_url)
        rules = rules_file(tmp_path, fx, am1.http_url)
        am2.fail(1, status=500)
        assert main(["test-notify", "-c", str(rules), "--channel", "alertmanager"]) == 5
        out = capsys.readouterr().out
        assert "resolves in 60 s" in out and "HTTP 500" in out
        (got,) = am1.received
        assert got.data[0]["labels"]["alertname"] == "riskwatch-test"


@pytest.mark.parametrize(
    ("urls", "problem"),
    [
        ("[]", "needs at least one Alertmanager URL"),
        ("[ftp://x]", "is not an http(s) URL"),
        ("[http://h:9093/api/v2/alerts]", "give the base URL"),
        ('["http://h:9093?x=1"]', "must not have a query"),
        ("[http://h:9093, http://h:9093/]", "listed twice"),
        ('["${UNSET_AM}"]', "${UNSET_AM} is not set"),
    ],
)
def test_check_rejects_bad_alertmanager_urls(tmp_path, urls, problem):
    path = tmp_path / "r.yaml"
    path.write_text(f"alertmanager:\n  urls: {urls}\n")
    with pytest.raises(ConfigError) as err:
        config.load(str(path), environ={})
    assert any(problem in p and ":2:" in p for p in err.value.problems), err.value.problems


def test_check_rejects_bad_labels_and_a_resend_under_a_second(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(
        "alertmanager: {urls: [http://127.0.0.1:9093], resend: 0}\n"
        "rules:\n"
        "  - {name: a, metric: leverage, op: '>', warning: 10, labels: {severity: x, 1x: y}}\n"
    )
    with pytest.raises(ConfigError) as err:
        config.load(str(path), environ={})
    text = "\n".join(err.value.problems)
    assert "alertmanager.resend: must be at least 1s" in text
    assert "rules[0].labels.severity: riskwatch sets the label 'severity' itself" in text
    assert "rules[0].labels.1x: label names use letters" in text
    assert "no channel" not in text, "with alertmanager, a rule needs no channel"


def test_check_summarises_alertmanager_without_showing_a_url(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AM_URL", "http://u:hidden-password@127.0.0.1:9093")
    path = tmp_path / "r.yaml"
    path.write_text("alertmanager: {urls: ['${AM_URL}'], resend: 30s}\n")
    assert main(["check", "-c", str(path)]) == 0
    out = capsys.readouterr().out
    assert "alertmanager: 1 URL (each gets every alert), resend every 30s" in out
    assert "hidden-password" not in out and "defaults.channels is empty" not in out


def test_dry_run_prints_what_it_would_post(tmp_path, monkeypatch, capsys):
    with FakeBitget() as fx:
        fx.add_position("BTCUSDT", "long", mark="93500", liquidation="90000")
        monkeypatch.setenv("AM2", "http://127.0.0.1:1")
        rules = rules_file(tmp_path, fx, "http://127.0.0.1:2")
        assert main(["run", "-c", str(rules), "--once", "--dry-run"]) == 0
    title, line = capsys.readouterr().out.splitlines()[:2]
    assert title == "alertmanager: 1 firing, 0 resolved (POST /api/v2/alerts)"
    alert = json.loads(line)
    assert alert["labels"]["symbol"] == "BTCUSDT" and alert["endsAt"].endswith("Z")
    assert not (tmp_path / "state").exists(), "a dry run writes no state"


def test_the_schema_knows_alertmanager_and_rule_labels():
    from riskwatch.config.schema import json_schema

    schema = json_schema()
    section = schema["properties"]["alertmanager"]["anyOf"][0]
    assert section["required"] == ["urls"] and not section["additionalProperties"]
    assert set(section["properties"]) == {"urls", "resend", "timeout"}
    labels = schema["$defs"]["rule"]["properties"]["labels"]
    assert "severity" in labels["propertyNames"]["not"]["enum"]


def test_a_post_delivered_late_is_still_the_json_it_was_and_not_expired(store):
    """After an outage: no "(delayed ...)" prefix in the body, a firing endsAt still ahead."""
    with Receiver() as rx:
        now = [10_000.0]
        msg = am.probe_alert(now[0] - 600, 60.0, "h")  # queued ten minutes ago
        store.commit_cycle({}, [("k", msg)])
        sender = AlertmanagerSender(rx.http_url, timeout=2, clock=lambda: now[0])
        result = deliver_pending(
            Destination("k", rx.http_url, ("alertmanager",), sender),
            store,
            ttl=3600,
            force=True,
            policy=RetryPolicy(attempts=1),
            clock=lambda: now[0],
            sleep=lambda s: None,
            stop=threading.Event(),
            late_after=60.0,
        )
        assert result.sent == 1 and store.undelivered() == []
        (alert,) = rx.received[0].data
        assert alert["endsAt"] == am.rfc3339(now[0] + 60.0)


def test_a_liquidation_posts_the_event_firing_and_the_positions_alert_resolved(tmp_path):
    with FakeBitget() as fx:
        fx.add_position("BTCUSDT", "long", total="0.5", mark="93500", liquidation="90000")
        path = tmp_path / "rules.yaml"
        path.write_text(
            RULES.format(url=fx.url, state=tmp_path / "state", am1="http://127.0.0.1:1")
        )
        env = {**FakeBitget.credentials_env(), "AM2": "http://127.0.0.1:2"}
        wired = wire(config.load(str(path), environ=env), environ=env, out=io.StringIO())
        try:
            wired.watcher.cycle()
            fx.liquidate("BTCUSDT", "long", price="89950")
            outcome = wired.watcher.cycle()
        finally:
            for close in wired.hooks.closers:
                close()
    (msg,) = {m.body: m for d, m in outcome.outgoing if m.channel == "alertmanager"}.values()
    alerts = {a["labels"]["alertname"]: a for a in am.api_alerts(msg.body, msg.created_at)}
    liq = alerts["liquidated"]
    assert liq["labels"]["severity"] == "critical" and liq["labels"]["symbol"] == "BTCUSDT"
    assert liq["annotations"]["summary"].startswith("LIQUIDATED BTCUSDT long: 0.5 closed")
    assert liq["endsAt"] > am.rfc3339(msg.created_at), "it fires, for one resend"
    ended = alerts["near-liquidation"]
    assert ended["endsAt"] == am.rfc3339(msg.created_at), "the position's alert ends with it"
    assert "(liquidated)" in ended["annotations"]["summary"]


def test_a_superseded_post_stays_superseded_after_a_restart(store):
    """Accepted: a newer post. Still queued: an older one (it kept failing). After a restart
    the older one's firing set must not re-fire what the newer post resolved."""
    from riskwatch.delivery.alertmanager import Accepted

    key = ("near-liquidation", "USDT-FUTURES", "BTCUSDT", "long", "default")
    labels = am.labels_for(key, "warning", "position")
    stale = am.message([am.Entry(key, labels, "W", "", 800, 1140.0, 800)], 900.0)
    with Receiver() as rx:
        before = AlertmanagerSender(rx.http_url, timeout=2, accepted=Accepted(store), key="k")
        newer = am.probe_alert(950.0, 60.0, "h")
        before.send(newer.title, newer.body)
        after = AlertmanagerSender(rx.http_url, timeout=2, accepted=Accepted(store), key="k")
        after.send(stale.title, stale.body)
        assert len(rx.received) == 1, "the stale firing set was posted after the restart"
        other = AlertmanagerSender(rx.http_url, timeout=2, accepted=Accepted(store), key="j")
        other.send(stale.title, stale.body)
        assert len(rx.received) == 2, "each Alertmanager has its own memory"


def test_a_clock_stepped_back_does_not_silence_alertmanager(store):
    """A post accepted while the clock ran an hour ahead must not make every later post look
    superseded once the clock is set right (nothing but events would be posted for an hour)."""
    from riskwatch.delivery.alertmanager import Accepted

    now = [4600.0]
    with Receiver() as rx:
        sender = AlertmanagerSender(
            rx.http_url, timeout=2, clock=lambda: now[0], accepted=Accepted(store), key="k"
        )
        ahead = am.probe_alert(4600.0, 60.0, "h")
        sender.send(ahead.title, ahead.body)
        now[0] = 1000.0  # NTP stepped the clock back an hour
        right = am.probe_alert(1000.0, 60.0, "h")
        sender.send(right.title, right.body)
        assert len(rx.received) == 2, "a post queued now was taken for a superseded one"
        older = am.probe_alert(990.0, 60.0, "h")  # and ordering works again from there
        sender.send(older.title, older.body)
        assert len(rx.received) == 2
