"""Long messages: split per URL at the service's limit; a retry never resends an accepted part."""

from __future__ import annotations

import json
import re
import threading

import pytest
import responses

from riskwatch.delivery.retry import Destination, RetryPolicy, deliver_pending
from riskwatch.errors import DeliveryError
from riskwatch.model import Message
from riskwatch.store.db import Store

pytest.importorskip("riskwatch.render.lines")

FAST = RetryPolicy(attempts=2, initial=0.0, max_wait=0.0, jitter=0.0)
BODY = "\n".join(f"WARNING near-liquidation SYM{i:03d}USDT long: gap {i}.00%" for i in range(120))


class FlakySender:
    """Accepts up to ``limit`` characters; refuses the sends listed in ``fail_at`` (1-based)."""

    marks_late = True

    def __init__(self, limit: int, fail_at: set[int]) -> None:
        self._limit, self.fail_at, self.calls, self.accepted = limit, fail_at, 0, []

    def display(self) -> str:
        return "flaky://"

    def limit(self) -> int:
        return self._limit

    def title_separate(self) -> bool:
        return True

    def send(self, title: str, body: str, notify_type: str = "info") -> None:
        self.calls += 1
        assert len(body) <= self._limit
        if self.calls in self.fail_at:
            raise DeliveryError("flaky:// refused")
        self.accepted.append((title, body))


def _run(store: Store, sender: FlakySender) -> int:
    dest = Destination("k", "flaky://", ("phone",), sender)
    res = deliver_pending(
        dest,
        store,
        ttl=1e9,
        force=True,
        policy=FAST,
        clock=lambda: 1000.0,
        sleep=lambda s: None,
        stop=threading.Event(),
    )
    return res.sent


def test_split_parts_are_not_resent_after_a_failure(tmp_path):
    store = Store.open(str(tmp_path / "s"))
    store.commit_cycle({}, [("k", Message("phone", "120 warnings", BODY, 1000.0))])
    sender = FlakySender(1000, fail_at={2, 3})  # part 2 fails both attempts of the first pass
    assert _run(store, sender) == 0
    (item,) = store.undelivered()
    assert item.parts_sent == 1
    assert _run(store, sender) == 1
    bodies = [b for _, b in sender.accepted]
    assert "\n".join(bodies) == BODY  # every line once, in order
    titles = [t for t, _ in sender.accepted]
    assert titles[0] == f"120 warnings (1/{len(titles)})" and len(titles) == len(set(titles))
    assert store.undelivered() == []


@responses.activate
def test_telegram_parts_fit_4096_with_the_title(tmp_path):
    from riskwatch.delivery.workers import Deliverer
    from riskwatch.model import Channel, Config

    api = re.compile(r"https://api\.telegram\.org/bot.*/sendMessage")
    responses.add(responses.POST, api, json={"ok": True, "result": {}})
    url = "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/987654321"
    cfg = Config(path="r", channels=(Channel("phone", (url,)),))
    store = Store.open(str(tmp_path / "s"))
    body = BODY * 3
    from riskwatch.delivery.workers import routes

    store.commit_cycle({}, [(routes(cfg)["phone"][0], Message("phone", "t", body, 1000.0))])
    report = Deliverer(cfg, store, clock=lambda: 1000.0, policy=FAST).deliver_all_once()
    assert report.sent == 1
    texts = [json.loads(c.request.body)["text"] for c in responses.calls]
    assert len(texts) >= 3 and all(len(t) <= 4096 for t in texts)
