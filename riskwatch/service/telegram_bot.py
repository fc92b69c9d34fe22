"""The two-way Telegram bot (DESIGN 12): a worker long-polling ``getUpdates`` for button
presses and commands from the chats in ``telegram.chats``.

Only those chats are obeyed: anything from another chat (a forged callback, a stranger who
found the bot) gets no reply at all and one WARNING naming the chat id. A button names its
alert by a short id of one firing spell, so a replayed or stale press (the alert resolved, or
resolved and fired again) acts on nothing; each callback is acted on once. The offset is
persisted in the store's meta, so a restart neither replays nor loses updates.

Acks and silences go to the store exactly as ``riskwatch ack``/``silence`` write them; the
cycle applies them within one cycle.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from riskwatch import durations
from riskwatch.core import metrics
from riskwatch.core.silences import Silence, firing_matches
from riskwatch.delivery.telegram import BotApi, keyboard, store_ids
from riskwatch.errors import DeliveryError, StoreError
from riskwatch.model import BUILTIN_SCOPE, AlertKey, AlertState, Snapshot, TelegramSettings
from riskwatch.render.lines import num, split
from riskwatch.render.words import alert_words
from riskwatch.store import alertids
from riskwatch.store import silences as stored
from riskwatch.store.accounts import last_polls
from riskwatch.store.db import Store

log = logging.getLogger("riskwatch.telegram")

META_OFFSET = "telegram_offset"
POLL_TIMEOUT = 25  # seconds getUpdates holds (DESIGN 12)
# A command older than this (the daemon was down) is not acted on: "/silence ... 1h" sent
# hours ago would otherwise silence for an hour from now, and "/ack" a spell long past.
STALE_COMMAND = 600.0
SILENCES = {"s1": 3600.0, "s24": 86400.0}
REPLY_ATTEMPTS = 3
NOT_SILENCED = "riskwatch's own alerts are never silenced: ack it instead."
MAX_REPLY_WAIT = 60.0  # a reply that must wait longer is dropped (logged): the action is done
HELP = """riskwatch commands:
/status - firing alerts (acked marked) and the last poll
/positions - open positions and their distance to liquidation
/silences - active silences
/ack RULE SYMBOL [SIDE] - no repeats until it escalates, worsens or resolves
/silence RULE SYMBOL [SIDE] DURATION - e.g. /silence near-liquidation BTCUSDT 2h
/help - this list"""


class Bot:
    def __init__(
        self,
        api: BotApi,
        store: Store,
        *,
        settings: Callable[[], TelegramSettings | None],
        positions: Callable[[], str],
        stop: threading.Event,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.api = api
        self.store = store
        self.settings = settings
        self.positions = positions
        self.stop = stop
        self.clock = clock
        self.ids = store_ids(store, clock)
        self._strangers: set[str] = set()
        self._handled: OrderedDict[str, None] = OrderedDict()  # callback ids acted on
        self._thread: threading.Thread | None = None
        self._failing = False

    # ------------------------------------------------------------------ the worker
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="riskwatch-telegram", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 1.0) -> None:
        self.stop.set()
        if self._thread is not None:
            self._thread.join(timeout)  # a long poll in flight ends with the process

    def _run(self) -> None:
        backoff = 1.0
        while not self.stop.is_set():
            try:
                self.poll_once()
                backoff = 1.0
                if self._failing:
                    log.info("telegram: getUpdates works again")
                    self._failing = False
            except DeliveryError as exc:
                if not self._failing:
                    log.warning("telegram: %s; retrying", exc)
                    self._failing = True
                wait = max(exc.retry_after or 0.0, backoff)  # a retry_after of 0 is no spin
                backoff = min(backoff * 2, 60.0)
                self.stop.wait(wait)
            except StoreError as exc:
                log.error("telegram: %s", exc)
                self.stop.wait(5.0)
            except Exception as exc:  # never the end of the worker: the buttons would go deaf
                log.error("telegram: getUpdates failed (%s: %s); retrying", type(exc).__name__, exc)
                self.stop.wait(5.0)

    def poll_once(self, timeout: int = POLL_TIMEOUT) -> int:
        """One getUpdates; handle each update, persisting the offset after each."""
        offset = int(self.store.get_meta(META_OFFSET) or 0)
        updates = self.api.get_updates(offset, timeout)
        for update in updates:
            uid = update.get("update_id")
            if not isinstance(uid, int) or uid < offset:
                continue
            try:
                self.handle(update)
            except DeliveryError as exc:  # a reply failed: the action itself is done
                log.warning("telegram: reply not delivered: %s", exc)
            except StoreError:
                raise  # the worker waits and polls this update again
            except Exception as exc:  # an update of a shape not foreseen: skipped, not fatal
                log.warning("telegram: update %d skipped (%s: %s)", uid, type(exc).__name__, exc)
            self.store.set_meta(META_OFFSET, str(uid + 1))
        return len(updates)

    def _reply(self, method: Callable[..., Any], *args: Any) -> None:
        """One Bot API call of a reply, honouring Telegram's 429 ``retry_after`` (up to
        ``REPLY_ATTEMPTS`` tries, each wait cut short by shutdown). Told to wait longer than
        ``MAX_REPLY_WAIT``, the reply is dropped: asking again sooner would only prolong the
        flood wait, and the action itself is done."""
        for attempt in range(1, REPLY_ATTEMPTS + 1):
            try:
                method(*args)
                return
            except DeliveryError as exc:
                wait = exc.retry_after
                if wait is None or wait > MAX_REPLY_WAIT or attempt == REPLY_ATTEMPTS:
                    raise
                if self.stop.wait(wait):
                    raise

    # ------------------------------------------------------------------ updates
    def handle(self, update: dict[str, Any]) -> None:
        if isinstance(cq := update.get("callback_query"), dict):
            found = cq.get("message")
            msg: dict[str, Any] = found if isinstance(found, dict) else {}
            chat = _chat_of(msg) or _id(cq.get("from"))
            if self._obeys(chat):
                self.callback(cq, chat, msg)
        elif isinstance(m := update.get("message"), dict) and isinstance(m.get("text"), str):
            chat = _chat_of(m)
            if not self._obeys(chat):
                return
            sent = m.get("date")
            if isinstance(sent, int | float) and self.clock() - sent > STALE_COMMAND:
                # written while riskwatch was down: not acted on late
                why = f"Not done: sent {_when(sent)}, while riskwatch was not listening."
                self._reply(self.api.send_message, chat, f"{why} Send it again if still wanted.")
                return
            self.command(chat, m["text"], _name(m.get("from")))

    def _obeys(self, chat: str) -> bool:
        settings = self.settings()
        if settings is not None and chat and chat in settings.chats:
            return True
        if chat not in self._strangers and len(self._strangers) < 10_000:
            self._strangers.add(chat)
            log.warning("telegram: ignoring updates from chat %s (not in telegram.chats)", chat)
        return False

    def callback(self, cq: dict[str, Any], chat: str, msg: dict[str, Any]) -> None:
        qid = str(cq.get("id", ""))
        if qid in self._handled:
            return  # the same press delivered twice: acted on once
        try:
            self._press(qid, cq, chat, msg)
        except StoreError:
            raise  # not acted on: its update is polled again, and the press acted on then
        except Exception:
            self._done(qid)
            raise
        self._done(qid)

    def _done(self, qid: str) -> None:
        self._handled[qid] = None
        while len(self._handled) > 1000:
            self._handled.popitem(last=False)

    def _press(self, qid: str, cq: dict[str, Any], chat: str, msg: dict[str, Any]) -> None:
        act, _, sid = str(cq.get("data", "")).partition(":")
        name = _name(cq.get("from"))
        found = alertids.by_short_id(self.store, sid) if sid else None
        alert = self.store.alert(found[0]) if found else None
        if found is None or alert is None or alert.status != "firing" or alert.since != found[1]:
            self._reply(
                self.api.answer_callback, qid, "That alert is no longer firing: nothing done."
            )
            return
        if act == "a":
            stored.add_ack(self.store, alert.key, name, self.clock())
            done = f"acked by {name}"
        elif act in SILENCES and alert.scope == BUILTIN_SCOPE:
            self._reply(self.api.answer_callback, qid, NOT_SILENCED)
            return
        elif act in SILENCES:
            self._silence(alert, SILENCES[act], name, "from Telegram")
            done = f"silenced {durations.to_text(SILENCES[act])} by {name}"
        else:
            self._reply(self.api.answer_callback, qid, "Already done.")
            return
        self._reply(self.api.answer_callback, qid, done[0].upper() + done[1:])
        markup = msg.get("reply_markup")
        if isinstance(markup, dict) and "message_id" in msg:
            self._reply(self.api.edit_markup, chat, msg["message_id"], _mark(markup, sid, done))

    def _silence(self, alert: AlertState, seconds: float, by: str, comment: str) -> Silence:
        now = self.clock()
        rule, _, subject, side, account = alert.key
        s = Silence(id="", starts_at=now, ends_at=now + seconds, rule=_exact(rule),
                    symbol=_exact(subject), side=side, account=_exact(account),
                    comment=comment, created_by=by)  # fmt: skip
        return stored.add_silence(self.store, s)

    # ------------------------------------------------------------------ commands
    def command(self, chat: str, text: str, name: str) -> None:
        words = text.split()
        cmd = words[0].split("@", 1)[0].lower() if words else ""
        args = words[1:]
        if cmd == "/status":
            reply, markup = self.status()
        elif cmd == "/positions":
            reply, markup = self.positions(), None
        elif cmd == "/silences":
            reply, markup = self.silences(), None
        elif cmd == "/ack":
            reply, markup = self.ack(args, name), None
        elif cmd == "/silence":
            reply, markup = self.silence(args, name), None
        else:
            reply, markup = HELP, None
        parts = split(reply, 4000)
        for i, part in enumerate(parts):
            self._reply(self.api.send_message, chat, part, markup if i == len(parts) - 1 else None)

    def status(self) -> tuple[str, dict | None]:
        state = self.store.load_state()
        acks = stored.acks(self.store)
        firing = sorted((a for a in state.values() if a.status == "firing"), key=_order)
        polls = last_polls(self.store)
        oldest = min((float(v) for v in polls.values()), default=None)
        whose = " (of every account)" if len(polls) > 1 else ""
        head = f"last good poll{whose}: {_when(oldest) if oldest is not None else 'never'}"
        if not firing:
            return f"No firing alerts.\n{head}", None
        lines = [f"{len(firing)} firing:"]
        for a in firing:
            ack = acks.get(a.key)
            mark = f" (acked by {ack.by})" if ack else ""
            lines.append(f"{a.severity.upper()} {_subject(a.key)}{mark}")
        unacked = [a.key for a in firing if a.key not in acks]
        return "\n".join([*lines, head]), keyboard(unacked, self.ids)

    def silences(self) -> str:
        active = stored.silences(self.store, now=self.clock())
        if not active:
            return "No active silences."
        return "\n".join(
            f"{s.id} {s.matchers()} until {_when(s.ends_at)}"
            + (f" ({s.comment})" if s.comment else "")
            for s in active
        )

    def _target(self, args: list[str]) -> list[AlertState] | str:
        if not args:
            return "usage: /ack RULE SYMBOL [SIDE] (see /status)"
        symbol = args[1] if len(args) > 1 else ""  # none: a built-in alert (riskwatch-stale)
        side = args[2].lower() if len(args) > 2 else ""
        found = firing_matches(self.store.load_state(), args[0], symbol, side)
        return found or f"no firing alert {' '.join(args[:3])} (see /status)"

    def ack(self, args: list[str], name: str) -> str:
        found = self._target(args)
        if isinstance(found, str):
            return found
        for a in found:
            stored.add_ack(self.store, a.key, name, self.clock())
        return "\n".join(f"acked by {name}: {_subject(a.key)}" for a in found)

    def silence(self, args: list[str], name: str) -> str:
        usage = (
            "usage: /silence RULE SYMBOL [SIDE] DURATION, e.g. /silence near-liquidation BTCUSDT 2h"
        )
        if len(args) < 3:
            return usage
        try:
            seconds = durations.parse(args[-1])
        except ValueError as exc:
            return f"{exc}; {usage}"
        if seconds <= 0:
            return usage
        found = self._target(args[:-1])
        if isinstance(found, str):
            return found
        made = [self._silence(a, seconds, name, "from Telegram /silence") for a in found]
        return "\n".join(
            f"silenced {_subject(a.key)} for {durations.to_text(seconds)} (id {s.id})"
            for a, s in zip(found, made, strict=True)
        )


def _exact(text: str) -> str:
    """A glob matching ``text`` only (rule names and symbols hold no glob characters, but a
    ``[`` would still be escaped)."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)


def _mark(markup: dict, sid: str, done: str) -> dict:
    """The keyboard with the row of alert ``sid`` replaced by one button saying who did what."""
    rows = []
    found = markup.get("inline_keyboard")
    for row in found if isinstance(found, list) else []:
        buttons = [b for b in row if isinstance(b, dict)] if isinstance(row, list) else []
        ours = any(str(b.get("callback_data", "")).endswith(f":{sid}") for b in buttons)
        if not ours:
            rows.append(buttons)
            continue
        label = f"{str(buttons[0].get('text', '')).removeprefix('Ack ')}: {done}"
        rows.append([{"text": label[:64], "callback_data": f"n:{sid}"}])
    return {"inline_keyboard": [r for r in rows if r]}


def _chat_of(msg: dict[str, Any]) -> str:
    return _id(msg.get("chat"))


def _id(obj: object) -> str:
    return str(obj.get("id", "")) if isinstance(obj, dict) else ""


def _name(user: object) -> str:
    """Who pressed or wrote, as one printable line (a first name may hold a newline, which
    would break ``status``'s table and the log line)."""
    if not isinstance(user, dict):
        return "someone"
    name = str(user.get("username") or user.get("first_name") or user.get("id") or "")
    return "".join(c if c.isprintable() else " " for c in name[:32]).strip() or "someone"


def _subject(key: AlertKey) -> str:
    return alert_words(key)


def _order(a: AlertState) -> tuple[int, AlertKey]:
    return (0 if a.severity == "critical" else 1, a.key)


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def positions_text(snapshot: Snapshot | Sequence[Snapshot] | None) -> str:
    """/positions: each open position and its distance to liquidation, from the last poll of
    each account (named after the side when there are several: DESIGN 14)."""
    snaps = [snapshot] if isinstance(snapshot, Snapshot) else list(snapshot or ())
    if not snaps:
        return "No successful poll yet."
    named = len(snaps) > 1
    gap = metrics.lookup("position", "liq_gap_pct")
    lines = []
    for snap in snaps:
        whose = f" on {snap.account}" if named else ""
        for p in sorted(snap.positions, key=lambda p: (p.symbol, p.side)):
            value = gap.fn(p) if gap else None
            dist = "no liquidation price" if value is None else f"{value:.2f}% from liquidation"
            lines.append(
                f"{p.symbol} {p.side}{whose} {num(float(p.total))}: mark "
                f"{num(float(p.mark_price))}, liq "
                f"{num(float(p.liquidation_price)) if p.liquidation_price else 'none'}; {dist}"
            )
    if not lines:
        return "No open positions."
    return "\n".join([f"{len(lines)} open positions:", *lines])
