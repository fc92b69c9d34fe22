"""Telegram through the Bot API itself (DESIGN 12): the client, and the sender for ``tgram://``
URLs whose token is the ``telegram:`` section's.

Why plain ``requests`` and no bot framework: riskwatch needs six methods (sendMessage,
editMessageReplyMarkup, answerCallbackQuery, getUpdates and their errors), each one JSON POST;
a framework (python-telegram-bot, aiogram) brings an event loop, its own retry and rate-limit
policy and a dispatcher, all of which would fight the outbox's rules. Why not apprise for these
URLs: apprise cannot attach an inline keyboard, and the buttons are the point.

The token is part of every request URL, so no exception text from ``requests`` (which quotes
the URL) ever leaves this module: errors are rebuilt from the method, the HTTP status and
Telegram's own ``description``; the token is also registered with ``logs.register_secret``.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Sequence
from typing import Any

from riskwatch import logs
from riskwatch.config.answering import parse_tgram as parse_url
from riskwatch.errors import DeliveryError
from riskwatch.model import BUILTIN_SCOPE, AlertKey, TelegramSettings
from riskwatch.render.words import alert_words
from riskwatch.store import alertids
from riskwatch.store.db import Store

log = logging.getLogger("riskwatch.telegram")

LIMIT = 4096  # characters of one message's text
MAX_ROWS = 8  # keyboard rows per message (DESIGN 12)
CALLBACK_MAX = 64  # bytes of callback_data (Bot API)
MAX_RETRY_AFTER = 86400.0  # seconds: the longest flood wait honoured
ACTIONS = {"a": "Ack", "s1": "Silence 1h", "s24": "Silence 24h"}

# key -> (short id, label, silenceable) for a firing alert, None when it no longer fires
Keyboard = Callable[[AlertKey], tuple[str, str, bool] | None]


class BotApi:
    """One bot's Bot API: POST ``{api_url}/bot{token}/{method}`` with a JSON body."""

    def __init__(self, token: str, api_url: str, *, timeout: float = 10.0) -> None:
        logs.register_secret(token)
        self._base = f"{api_url.rstrip('/')}/bot{token}/"
        self.timeout = timeout
        self._local = threading.local()  # one requests.Session per thread (they are not shared)

    def _session(self) -> Any:
        s = getattr(self._local, "session", None)
        if s is None:
            import requests

            s = self._local.session = requests.Session()
        return s

    def call(self, method: str, payload: dict[str, Any], *, timeout: float | None = None) -> Any:
        """The method's ``result``; ``DeliveryError`` (with Telegram's ``retry_after`` on a
        429) otherwise, its text free of the token."""
        import requests

        wait = self.timeout if timeout is None else timeout
        try:
            resp = self._session().post(self._base + method, json=payload, timeout=wait)
        except requests.Timeout:
            raise DeliveryError(f"telegram {method}: timed out after {wait:g} s") from None
        except requests.ConnectionError:
            raise DeliveryError(f"telegram {method}: cannot connect to the Bot API") from None
        except requests.RequestException as exc:
            raise DeliveryError(f"telegram {method}: {type(exc).__name__}") from None
        try:
            data = resp.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise DeliveryError(f"telegram {method}: HTTP {resp.status_code}, not a Bot API reply")
        if data.get("ok") is True:
            return data.get("result")
        params = data.get("parameters") if isinstance(data.get("parameters"), dict) else {}
        retry = params.get("retry_after") if params else None
        desc = logs.redact(str(data.get("description") or "no description"))[:200]
        code = data.get("error_code", resp.status_code)
        raise DeliveryError(f"telegram {method}: {code} {desc}", retry_after=_seconds(retry))

    def send_message(self, chat_id: str, text: str, markup: dict | None = None) -> dict:
        payload: dict[str, Any] = {"chat_id": chat_id, "text": text[:LIMIT]}
        if markup:
            payload["reply_markup"] = markup
        return self.call("sendMessage", payload)  # plain text: no parse_mode, BTC_USDT survives

    def edit_markup(self, chat_id: str | int, message_id: int, markup: dict) -> None:
        self.call(
            "editMessageReplyMarkup",
            {"chat_id": chat_id, "message_id": message_id, "reply_markup": markup},
        )

    def answer_callback(self, callback_id: str, text: str) -> None:
        self.call("answerCallbackQuery", {"callback_query_id": callback_id, "text": text[:200]})

    def get_updates(self, offset: int, timeout: int = 25) -> list[dict]:
        result = self.call(
            "getUpdates",
            {
                "offset": offset,
                "timeout": timeout,
                "allowed_updates": ["message", "callback_query"],
            },
            timeout=timeout + self.timeout,
        )
        return [u for u in result if isinstance(u, dict)] if isinstance(result, list) else []


def _seconds(value: object) -> float | None:
    """Telegram's ``retry_after`` as a wait a thread can make: a finite number of seconds,
    at most a day (a hostile or broken reply's 1e20 would overflow ``Event.wait``)."""
    if not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return min(max(float(value), 0.0), MAX_RETRY_AFTER)


def keyboard(keys: Sequence[AlertKey], ids: Keyboard) -> dict | None:
    """One row (Ack, Silence 1h, Silence 24h) per firing alert of the message, at most 8; a
    built-in alert, which no silence covers, gets Ack only."""
    rows: list[list[dict[str, str]]] = []
    for key in keys:
        found = ids(key)
        if found is None:
            continue
        sid, label, silenceable = found
        rows.append(
            [
                {"text": f"{name} {label}" if act == "a" else name, "callback_data": f"{act}:{sid}"}
                for act, name in ACTIONS.items()
                if act == "a" or silenceable
            ]
        )
        if len(rows) == MAX_ROWS:
            break
    return {"inline_keyboard": rows} if rows else None


def with_buttons(sender: Any, keys: tuple[AlertKey, ...], *, last: bool) -> Any:
    """The sender for one part of a message: Telegram's last part carries the buttons of the
    message's alerts (``keys``); any other sender, or part, is sent as it is."""
    keyed = getattr(sender, "with_keys", None)
    return keyed(keys) if keyed is not None and last and keys else sender


class TelegramSender:
    """Sends one URL's messages to its chats, plain text, with the alert keyboard on the last
    part. A chat that accepted a part is not sent it again when another chat fails."""

    marks_late = True

    def __init__(self, api: BotApi, chats: tuple[str, ...], ids: Keyboard) -> None:
        self.api = api
        self.chats = chats
        self.ids = ids
        self._accepted: dict[tuple[str, str], set[str]] = {}
        self._keys: tuple[AlertKey, ...] = ()

    def display(self) -> str:
        return "tgram://****/" + "/".join(self.chats)

    def limit(self) -> int:
        return LIMIT

    def title_separate(self) -> bool:
        return False

    def with_keys(self, keys: tuple[AlertKey, ...]) -> TelegramSender:
        """The same sender, adding the keyboard of ``keys`` (the outbox's last part)."""
        bound = TelegramSender(self.api, self.chats, self.ids)
        bound._accepted, bound._keys = self._accepted, keys
        return bound

    def send(self, title: str, body: str, notify_type: str = "info") -> None:
        """``notify_type`` has no Bot API equivalent: the title says the severity."""
        text = f"{title}\n{body}" if title else body
        done = self._accepted.setdefault((title, body), set())
        markup = keyboard(self._keys, self.ids) if self._keys else None
        for chat in self.chats:
            if chat not in done:
                self.api.send_message(chat, text, markup)
                done.add(chat)
        del self._accepted[(title, body)]


def sender_for(url: str, settings: TelegramSettings | None, ids: Keyboard) -> TelegramSender | None:
    """riskwatch's own sender for a ``tgram://`` URL with the ``telegram:`` token (its chats,
    else the section's); None: apprise sends it."""
    parsed = parse_url(url)
    if settings is None or parsed is None or parsed[0] != settings.token:
        return None
    api = BotApi(settings.token, settings.api_url)
    return TelegramSender(api, parsed[1] or settings.chats, ids)


def store_ids(store: Store, clock: Callable[[], float]) -> Keyboard:
    """Buttons for the alerts the store holds as firing, by their short ids."""

    def ids(key: AlertKey) -> tuple[str, str, bool] | None:
        alert = store.alert(key)
        if alert is None or alert.status != "firing":
            return None
        sid = alertids.short_id(store, key, alert.since, clock())
        label = alert_words(key, rule=False) or key[0]
        return sid, label, alert.scope != BUILTIN_SCOPE

    return ids
