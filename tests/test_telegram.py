"""The two-way Telegram bot against a local Bot API stand-in (real HTTP on 127.0.0.1): alert
messages with buttons, presses from the owner and from strangers, replays, commands, 429."""

from __future__ import annotations

import logging
import threading
from dataclasses import replace

import pytest

from riskwatch.delivery import workers
from riskwatch.delivery.fake_telegram import FakeTelegram
from riskwatch.delivery.retry import RetryPolicy, send_with_retries
from riskwatch.delivery.telegram import BotApi, TelegramSender
from riskwatch.errors import DeliveryError
from riskwatch.model import BUILTIN_SCOPE, AlertState, Channel, TelegramSettings
from riskwatch.service.telegram_bot import META_OFFSET, Bot
from riskwatch.store import silences as stored
from tests.answering_support import Rig, config

OWNER = 42
STRANGER = 666
KEY = ("near-liquidation", "USDT-FUTURES", "BTCUSDT", "long", "default")


@pytest.fixture
def tg():
    with FakeTelegram() as fake:
        yield fake


@pytest.fixture
def rig(tmp_path, tg):
    state = str(tmp_path / "state")
    settings = TelegramSettings(token=tg.token, chats=(str(OWNER),), api_url=tg.api_url)
    phone = Channel("phone", (f"tgram://{tg.token}/{OWNER}",))
    cfg = replace(config(state), channels=(phone,), telegram=settings)
    r = Rig(state, cfg, routes=workers.routes)
    r.deliverer = workers.Deliverer(cfg, r.store, clock=lambda: r.t)
    r.bot = Bot(
        BotApi(tg.token, tg.api_url),
        r.store,
        settings=lambda: settings,
        positions=lambda: "1 open positions",
        stop=r.deliverer.stop,
        clock=lambda: r.t,
    )
    yield r
    r.deliverer.close()
    r.close()


def _deliver(rig) -> None:
    report = rig.deliverer.deliver_all_once(timeout=10)
    assert report.pending == 0, str(report)


def _poll(rig) -> None:
    rig.bot.poll_once(timeout=0)


def test_alerts_arrive_as_plain_text_with_one_row_of_buttons_per_firing_alert(rig, tg):
    rig.exchange.gaps = {f"SYM{i}_USDT": 8.0 for i in range(10)}
    rig.cycle()
    _deliver(rig)
    (msg,) = tg.sent
    assert msg.chat_id == str(OWNER)
    assert msg.text.startswith("riskwatch: 10 warnings\nWARNING near-liquidation SYM0_USDT long")
    rows = msg.buttons()
    assert len(rows) == 8  # at most 8 rows
    assert [t for t, _ in rows[0]] == ["Ack SYM0_USDT long", "Silence 1h", "Silence 24h"]
    assert all(len(d.encode()) <= 64 for row in rows for _, d in row)


def test_ack_button_acks_answers_and_edits_the_keyboard_and_stops_repeats(rig, tg):
    rig.exchange.gaps = {"BTCUSDT": 8.0}
    rig.cycle()
    _deliver(rig)
    msg = tg.sent[0]
    qid = tg.press(msg, msg.buttons()[0][0][1], name="alice")
    _poll(rig)
    assert (qid, "Acked by alice") in tg.answers
    assert msg.buttons() == [[("BTCUSDT long: acked by alice", msg.buttons()[0][0][1])]]
    assert KEY in stored.acks(rig.store)
    assert rig.cycle(601) == {}  # the repeat is not sent


def test_a_forged_callback_from_a_stranger_chat_does_nothing_and_warns_once(rig, tg, caplog):
    rig.exchange.gaps = {"BTCUSDT": 8.0}
    rig.cycle()
    _deliver(rig)
    msg = tg.sent[0]
    caplog.set_level(logging.WARNING, logger="riskwatch.telegram")
    tg.press(msg, msg.buttons()[0][0][1], chat_id=STRANGER, user_id=STRANGER)
    tg.press(msg, msg.buttons()[0][1][1], chat_id=STRANGER, user_id=STRANGER)
    tg.command(STRANGER, "/status")
    _poll(rig)
    assert stored.acks(rig.store) == {} and stored.silences(rig.store) == []
    assert tg.answers == [] and len(tg.sent) == 1  # no reply of any kind
    warnings = [r.getMessage() for r in caplog.records if str(STRANGER) in r.getMessage()]
    assert warnings == [f"telegram: ignoring updates from chat {STRANGER} (not in telegram.chats)"]


def test_a_replayed_or_stale_callback_acts_on_nothing(rig, tg):
    rig.exchange.gaps = {"BTCUSDT": 8.0}
    rig.cycle()
    _deliver(rig)
    msg = tg.sent[0]
    silence_1h = msg.buttons()[0][1][1]
    tg.press(msg, silence_1h, query_id="same")
    tg.press(msg, silence_1h, query_id="same")  # delivered twice
    _poll(rig)
    assert len(stored.silences(rig.store)) == 1
    assert [a for a in tg.answers if a[0] == "same"] == [("same", "Silenced 1h by alice")]
    stored.expire_silence(rig.store, stored.silences(rig.store)[0].id, rig.t)
    rig.exchange.gaps = {"BTCUSDT": 30.0}
    rig.cycle(10)  # resolved
    rig.exchange.gaps = {"BTCUSDT": 8.0}
    rig.cycle(10)  # fires again: a new spell, the old button means nothing
    tg.press(msg, msg.buttons()[0][0][1].replace("n:", "a:"), query_id="old")
    _poll(rig)
    assert ("old", "That alert is no longer firing: nothing done.") in tg.answers
    assert stored.acks(rig.store) == {}


def test_commands_status_ack_silence_and_the_offset_survives_a_restart(rig, tg):
    rig.exchange.gaps = {"BTCUSDT": 3.0, "ETHUSDT": 8.0}
    rig.cycle()
    tg.command(OWNER, "/ack near-liquidation ethusdt")
    tg.command(OWNER, "/silence near-liquidation BTCUSDT long 2h")
    tg.command(OWNER, "/status@riskwatch_bot")
    _poll(rig)
    replies = [s.text for s in tg.sent]
    assert replies[0] == "acked by alice: near-liquidation ETHUSDT long"
    assert replies[1].startswith("silenced near-liquidation BTCUSDT long for 2h (id ")
    assert replies[2].splitlines()[:3] == [
        "2 firing:",
        "CRITICAL near-liquidation BTCUSDT long",
        "WARNING near-liquidation ETHUSDT long (acked by alice)",
    ]
    assert "last good poll: 2027-01-15" in replies[2]
    assert tg.sent[2].buttons()[0][0][0] == "Ack BTCUSDT long"  # unacked only
    offset = int(rig.store.get_meta(META_OFFSET) or 0)
    assert offset > 0
    bot2 = Bot(BotApi(tg.token, tg.api_url), rig.store, settings=rig.bot.settings,
               positions=lambda: "", stop=rig.deliverer.stop, clock=lambda: rig.t)  # fmt: skip
    bot2.poll_once(timeout=0)
    assert len(tg.sent) == 3  # nothing handled twice
    tg.command(OWNER, "/help")
    bot2.poll_once(timeout=0)
    assert tg.sent[-1].text.startswith("riskwatch commands:")


def test_a_429_retry_after_is_honoured(tg):
    api = BotApi(tg.token, tg.api_url)
    sender = TelegramSender(api, ("1", "2"), lambda key: None)
    tg.fail("sendMessage", 429, retry_after=3)
    waits: list[float] = []
    clock = [0.0]

    def sleep(s: float) -> None:
        waits.append(s)
        clock[0] += s

    import threading

    send_with_retries(sender, "t", "b", policy=RetryPolicy(), clock=lambda: clock[0],
                      sleep=sleep, stop=threading.Event())  # fmt: skip
    assert waits == [3.0]
    assert sorted(s.chat_id for s in tg.sent) == ["1", "2"]  # each chat once


def test_a_reply_told_to_retry_after_is_sent_again_after_the_wait(rig, tg):
    tg.fail("sendMessage", 429, retry_after=0.05)
    tg.command(OWNER, "/silences")
    _poll(rig)
    assert tg.calls.count("sendMessage") == 2
    assert [s.text for s in tg.sent] == ["No active silences."]
    assert int(rig.store.get_meta(META_OFFSET) or 0) > 0


def test_a_hostile_update_is_skipped_and_the_next_one_still_handled(rig, tg, caplog):
    rig.exchange.gaps = {"BTCUSDT": 8.0}
    rig.cycle()
    _deliver(rig)
    msg = tg.sent[0]
    ack = msg.buttons()[0][0][1]
    for i, markup in enumerate(({"inline_keyboard": 5}, {"inline_keyboard": [["x"], 5]})):
        tg.inject({"callback_query": {"id": f"h{i}", "data": ack, "from": {"id": OWNER},
                   "message": {"message_id": msg.message_id, "chat": {"id": OWNER},
                               "reply_markup": markup}}})  # fmt: skip
    tg.inject({"message": {"chat": {"id": OWNER}, "text": "/help", "date": []}})
    boom = tg.inject({"message": {"chat": {"id": OWNER}, "text": "/status"}})
    rig.bot.status = lambda: 1 / 0  # whatever an update breaks, the worker goes on
    caplog.set_level(logging.WARNING, logger="riskwatch.telegram")
    _poll(rig)
    assert KEY in stored.acks(rig.store)
    assert [a[0] for a in tg.answers] == ["h0", "h1"]
    assert tg.sent[-1].text.startswith("riskwatch commands:")
    assert int(rig.store.get_meta(META_OFFSET) or 0) == boom + 1  # not polled again
    warned = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage() for r in warned] == [
        f"telegram: update {boom} skipped (ZeroDivisionError: division by zero)"
    ]


class _Waits(threading.Event):
    """A stop event whose waits are recorded and return at once (never set)."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(float(timeout or 0))
        return False


def test_a_reply_told_to_wait_too_long_is_dropped_not_sent_early(rig, tg, caplog):
    stop = _Waits()
    rig.bot.stop = stop
    tg.fail("sendMessage", 429, retry_after=600, times=3)
    tg.command(OWNER, "/silences")
    caplog.set_level(logging.WARNING, logger="riskwatch.telegram")
    _poll(rig)
    assert tg.calls.count("sendMessage") == 1 and stop.waits == []  # never before 600 s
    assert "reply not delivered: telegram sendMessage: 429" in caplog.text
    assert int(rig.store.get_meta(META_OFFSET) or 0) > 0


def test_a_built_in_alert_offers_ack_only_and_a_silence_press_says_why(rig, tg):
    stale = ("riskwatch-stale", "", "", "")
    alert = AlertState(key=stale, status="firing", severity="critical", since=1.0, value=None,
                       scope=BUILTIN_SCOPE)  # fmt: skip
    rig.store.commit_cycle({stale: alert})
    tg.command(OWNER, "/status")
    _poll(rig)
    (row,) = tg.sent[-1].buttons()
    assert [text for text, _ in row] == ["Ack riskwatch-stale"]  # no silence covers it
    sid = row[0][1].partition(":")[2]
    qid = tg.press(tg.sent[-1], f"s1:{sid}")  # a hand-made press all the same
    _poll(rig)
    assert (qid, "riskwatch's own alerts are never silenced: ack it instead.") in tg.answers
    assert stored.silences(rig.store) == []


def test_a_press_the_store_could_not_record_is_acted_on_when_polled_again(rig, tg, monkeypatch):
    from riskwatch.errors import StoreError

    rig.exchange.gaps = {"BTCUSDT": 8.0}
    rig.cycle()
    _deliver(rig)
    msg = tg.sent[0]
    real = stored.add_ack
    fails = [StoreError("state.sqlite: cannot ack: database is locked")]

    def add_ack(*args, **kwargs):
        if fails:
            raise fails.pop()
        return real(*args, **kwargs)

    monkeypatch.setattr(stored, "add_ack", add_ack)
    qid = tg.press(msg, msg.buttons()[0][0][1])
    with pytest.raises(StoreError):
        _poll(rig)  # the worker logs it and polls again
    _poll(rig)
    assert KEY in stored.acks(rig.store)
    assert (qid, "Acked by alice") in tg.answers


@pytest.mark.parametrize("told, honoured", [(7, 7.0), (1e20, 86400.0), (-3, 0.0), ("soon", None)])
def test_retry_after_is_a_wait_a_thread_can_make(tg, told, honoured):
    tg.fail("getUpdates", 429, retry_after=told)
    with pytest.raises(DeliveryError) as caught:
        BotApi(tg.token, tg.api_url).get_updates(0, 0)
    assert caught.value.retry_after == honoured
    assert tg.token not in str(caught.value)


def test_the_worker_waits_out_retry_after_and_backs_off_when_told_zero(rig, tg):
    class Stop(_Waits):
        def wait(self, timeout: float | None = None) -> bool:
            super().wait(timeout)
            if len(self.waits) == 3:
                self.set()
            return self.is_set()

    rig.bot.stop = Stop()
    tg.fail("getUpdates", 429, retry_after=30)
    tg.fail("getUpdates", 429, retry_after=0, times=2)
    rig.bot._run()  # returns once stopped
    assert rig.bot.stop.waits == [30.0, 2.0, 4.0]


def test_who_acked_is_kept_as_one_printable_line(rig, tg):
    rig.exchange.gaps = {"BTCUSDT": 8.0}
    rig.cycle()
    who = {"id": OWNER, "first_name": "eve\nWARNING forged\x1b[2J"}
    text = "/ack near-liquidation BTCUSDT"
    tg.inject({"message": {"chat": {"id": OWNER}, "text": text, "from": who}})
    _poll(rig)
    (ack,) = stored.acks(rig.store).values()
    assert ack.by == "eve WARNING forged [2J"


def test_a_command_sent_while_riskwatch_was_down_is_not_acted_on_late(rig, tg):
    rig.exchange.gaps = {"BTCUSDT": 8.0}
    rig.cycle()
    sent = int(rig.t) - 3 * 3600
    tg.inject({"message": {"chat": {"id": OWNER}, "date": sent,
                           "text": "/silence near-liquidation BTCUSDT 1h"}})  # fmt: skip
    tg.inject({"message": {"chat": {"id": OWNER}, "date": int(rig.t) - 5, "text": "/silences"}})
    _poll(rig)
    assert stored.silences(rig.store) == []
    assert [s.text for s in tg.sent] == [
        "Not done: sent 2027-01-15 05:00:00 UTC, while riskwatch was not listening."
        " Send it again if still wanted.",
        "No active silences.",  # a fresh one is
    ]
