"""apprise's logger while a plugin is built: quiet for the building thread only, so another
worker's failed send keeps its reason (and Telegram's "retry after N") in ``result.logs()``."""

from __future__ import annotations

import logging
import threading

from riskwatch.delivery.apprise_sender import _apprise_silenced


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_building_a_plugin_hides_only_its_own_thread_s_records():
    logger = logging.getLogger("apprise")
    collect = _Collect()
    logger.addHandler(collect)
    was_level = logger.level
    logger.setLevel(logging.WARNING)
    inside, done = threading.Event(), threading.Event()

    def build() -> None:
        with _apprise_silenced():
            logger.warning("Unsupported URL json://user:TOKEN@host")
            inside.set()
            done.wait(5)

    builder = threading.Thread(target=build)
    builder.start()
    try:
        assert inside.wait(5)
        logger.warning("Too Many Requests: retry after 35, error=429")  # another worker's send
    finally:
        done.set()
        builder.join(5)
    logger.warning("after")
    logger.removeHandler(collect)
    logger.setLevel(was_level)
    assert collect.messages == ["Too Many Requests: retry after 35, error=429", "after"]
    assert not logger.disabled
