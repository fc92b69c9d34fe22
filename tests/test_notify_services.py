"""apprise's real Telegram and Slack plugins, their HTTP answered by ``responses``: Telegram's
"retry after N" is honoured (slept when it fits the cycle's budget, else it sets the next attempt
time, beyond the one-minute cap); Slack's bare 429 backs off exponentially."""

from __future__ import annotations

import json
import re

import pytest
import responses

from riskwatch.delivery.workers import Deliverer, RetryPolicy, routes
from riskwatch.model import Channel, Config, Message
from riskwatch.store.db import Store

BOT = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
TG_URL = f"tgram://{BOT}/987654321"
TG_API = re.compile(r"https://api\.telegram\.org/bot.*/sendMessage")
SLACK_URL = "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#risk"
SLACK_API = re.compile(r"https://hooks\.slack\.com/services/.*")
POLICY = RetryPolicy(attempts=4, budget=10.0, initial=0.5, max_wait=4.0, jitter=0.0)


class FakeTime:
    """The injected clock and sleep: sleeping advances the clock, instantly."""

    def __init__(self, now: float = 10_000.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _setup(tmp_path, url: str, t: FakeTime) -> tuple[Store, Deliverer]:
    store = Store.open(str(tmp_path / "state"))
    cfg = Config(path="r.yaml", state_dir=str(tmp_path), channels=(Channel("phone", (url,)),))
    msg = Message("phone", "1 critical", "CRITICAL near-liquidation BTC_USDT long", t.now)
    store.commit_cycle({}, [(k, msg) for k in routes(cfg)["phone"]])
    d = Deliverer(cfg, store, clock=t.clock, sleep=t.sleep, policy=POLICY)
    for dest in d.dests.values():  # apprise's own politeness throttle sleeps on the wall clock
        dest.sender._build()[1].request_rate_per_sec = 0
    return store, d


def _tg_429(after: int) -> dict:
    return {
        "ok": False,
        "error_code": 429,
        "description": f"Too Many Requests: retry after {after}",
        "parameters": {"retry_after": after},
    }


@responses.activate
def test_telegram_short_retry_after_is_slept_then_sent(tmp_path):
    t = FakeTime()
    responses.add(responses.POST, TG_API, json=_tg_429(3), status=429)
    responses.add(responses.POST, TG_API, json={"ok": True, "result": {}}, status=200)
    store, d = _setup(tmp_path, TG_URL, t)
    report = d.deliver_all_once()
    assert report.sent == 1 and store.undelivered() == []
    assert t.slept == [3.0]
    sent = json.loads(responses.calls[1].request.body)
    assert "BTC_USDT" in sent["text"]  # plain text: the underscore survives
    assert BOT.split(":")[1] not in repr(report)  # the URL is shown privacy-masked


@responses.activate
def test_telegram_long_retry_after_sets_next_attempt_beyond_the_cap(tmp_path):
    t = FakeTime()
    responses.add(responses.POST, TG_API, json=_tg_429(90), status=429)
    store, d = _setup(tmp_path, TG_URL, t)
    d.deliver_all_once()
    (item,) = store.undelivered()
    assert t.slept == []  # 90 s does not fit a 10 s budget: no sleeping
    assert len(responses.calls) == 1
    assert item.next_attempt_at == pytest.approx(t.now + 90.0)
    assert "retry after 90" in (item.last_error or "")
    assert BOT.split(":")[1] not in (item.last_error or "")


@responses.activate
def test_slack_429_backs_off_exponentially(tmp_path):
    t = FakeTime()
    for _ in range(3):
        responses.add(responses.POST, SLACK_API, body="rate_limited", status=429)
    responses.add(responses.POST, SLACK_API, body="ok", status=200)
    store, d = _setup(tmp_path, SLACK_URL, t)
    report = d.deliver_all_once()
    assert report.sent == 1 and store.undelivered() == []
    assert t.slept == [0.5, 1.0, 2.0]
    assert len(responses.calls) == 4


@responses.activate
def test_slack_always_429_backs_off_across_cycles_capped(tmp_path):
    t = FakeTime()
    responses.add(responses.POST, SLACK_API, body="rate_limited", status=429)
    store, d = _setup(tmp_path, SLACK_URL, t)
    delays = []
    for _ in range(6):
        d.deliver_all_once()
        (item,) = store.undelivered()
        delays.append(item.next_attempt_at - t.now)
    assert item.attempts == 6
    assert delays[1] > delays[0] and delays[2] > delays[1]
    assert max(delays) <= POLICY.cap  # jitter included
    assert "error=429" in (item.last_error or "")
