"""The test receiver's own scripting: ``release`` ends the current hangs, not later ones."""

from __future__ import annotations

import threading
import urllib.request

import pytest

from riskwatch.delivery.fake import Receiver


def _post(url: str, timeout: float) -> int:
    req = urllib.request.Request(url, data=b'{"message": "m"}', method="POST")
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return resp.status


def test_release_ends_the_current_hang_but_not_a_later_one():
    with Receiver() as rx:
        rx.hang(1, seconds=30)
        statuses: list[int] = []
        first = threading.Thread(target=lambda: statuses.append(_post(rx.http_url, 30)))
        first.start()
        while rx.requests < 1:
            threading.Event().wait(0.01)
        rx.release()
        first.join(10)
        assert statuses == [200]

        rx.hang(1, seconds=30)  # a later hang hangs again
        with pytest.raises(OSError):  # TimeoutError: the client gives up long before 30 s
            _post(rx.http_url, 0.5)
        rx.release()
        assert _post(rx.http_url, 10) == 200 and rx.received[-1].body == "m"
