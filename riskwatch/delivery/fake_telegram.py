"""A local Bot API stand-in for tests: a real HTTP server on 127.0.0.1 (port chosen by the OS).

It answers the methods riskwatch uses as Telegram does (``{"ok": true, "result": ...}``, or
``ok: false`` with ``error_code``, ``description`` and, for 429, ``parameters.retry_after``),
keeps what was sent, edited and answered, and serves the updates a test injects through a
long-polling ``getUpdates`` (held until an update arrives or its ``timeout`` passes).
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Sent:
    chat_id: str
    text: str
    message_id: int
    reply_markup: dict | None = None
    edits: list[dict] = field(default_factory=list)

    def buttons(self) -> list[list[tuple[str, str]]]:
        """The keyboard as rows of (text, callback_data)."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [[(b["text"], b.get("callback_data", "")) for b in row] for row in rows]


class FakeTelegram:
    def __init__(self, token: str = "123456:TEST-token_x") -> None:
        self.token = token
        self.sent: list[Sent] = []
        self.answers: list[tuple[str, str]] = []  # (callback_query_id, text)
        self.calls: list[str] = []  # method names in order
        self._updates: list[dict] = []
        self._faults: dict[str, list[tuple[int, str, float | None]]] = {}
        self._cond = threading.Condition()
        self._ids = itertools.count(1)
        self._update_ids = itertools.count(1000)
        self._server: ThreadingHTTPServer | None = None
        self.max_hold = 25.0

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> FakeTelegram:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                status, reply = fake._handle(self.path, body)
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            self.max_hold = 0.0
            self._cond.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def api_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # ------------------------------------------------------------------ a test's levers
    def fail(self, method: str, code: int = 429, *, retry_after: float | None = 1, times=1) -> None:
        desc = f"Too Many Requests: retry after {retry_after}" if code == 429 else "Bad Request"
        self._faults.setdefault(method, []).extend([(code, desc, retry_after)] * times)

    def inject(self, update: dict) -> int:
        with self._cond:
            update = {"update_id": next(self._update_ids), **update}
            self._updates.append(update)
            self._cond.notify_all()
            return update["update_id"]

    def press(self, sent: Sent, data: str, *, chat_id: int | None = None, user_id: int = 7,
              name: str = "alice", query_id: str | None = None) -> str:  # fmt: skip
        """Inject a button press on ``sent`` (from another chat: ``chat_id``)."""
        qid = query_id or f"q{next(self._ids)}"
        chat = int(sent.chat_id) if chat_id is None else chat_id
        self.inject(
            {
                "callback_query": {
                    "id": qid,
                    "from": {"id": user_id, "first_name": name, "username": name},
                    "message": {
                        "message_id": sent.message_id,
                        "chat": {"id": chat},
                        "reply_markup": sent.reply_markup,
                    },
                    "data": data,
                }
            }
        )
        return qid

    def command(self, chat_id: int, text: str, *, name: str = "alice") -> None:
        self.inject(
            {
                "message": {
                    "message_id": next(self._ids),
                    "from": {"id": chat_id, "first_name": name, "username": name},
                    "chat": {"id": chat_id, "type": "private"},
                    "text": text,
                }
            }
        )

    def wait_for(self, predicate, timeout: float = 10.0) -> bool:
        with self._cond:
            return self._cond.wait_for(predicate, timeout)

    def pending_updates(self) -> int:
        with self._cond:
            return len(self._updates)

    # ------------------------------------------------------------------ the API
    def _handle(self, path: str, body: bytes) -> tuple[int, dict]:
        prefix = f"/bot{self.token}/"
        if not path.startswith(prefix):
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        method = path[len(prefix) :]
        try:
            payload: dict[str, Any] = json.loads(body or b"{}")
        except ValueError:
            return 400, {"ok": False, "error_code": 400, "description": "Bad Request: no JSON"}
        with self._cond:
            self.calls.append(method)
            self._cond.notify_all()
            faults = self._faults.get(method)
            if faults:
                code, desc, retry = faults.pop(0)
                reply: dict[str, Any] = {"ok": False, "error_code": code, "description": desc}
                if retry is not None:
                    reply["parameters"] = {"retry_after": retry}
                return code, reply
        handler = getattr(self, "_m_" + method, None)
        if handler is None:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        return 200, {"ok": True, "result": handler(payload)}

    def _m_sendMessage(self, p: dict) -> dict:
        with self._cond:
            s = Sent(str(p["chat_id"]), p["text"], next(self._ids), p.get("reply_markup"))
            self.sent.append(s)
            self._cond.notify_all()
        return {"message_id": s.message_id, "chat": {"id": int(s.chat_id)}, "text": s.text}

    def _m_editMessageReplyMarkup(self, p: dict) -> bool:
        with self._cond:
            for s in self.sent:
                if s.message_id == p["message_id"]:
                    s.reply_markup = p["reply_markup"]
                    s.edits.append(p["reply_markup"])
            self._cond.notify_all()
        return True

    def _m_answerCallbackQuery(self, p: dict) -> bool:
        with self._cond:
            self.answers.append((p["callback_query_id"], p.get("text", "")))
            self._cond.notify_all()
        return True

    def _m_getUpdates(self, p: dict) -> list[dict]:
        offset = int(p.get("offset") or 0)
        hold = min(float(p.get("timeout") or 0), self.max_hold)
        with self._cond:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            self._cond.wait_for(lambda: self._updates or self.max_hold == 0, hold)
            return list(self._updates)
