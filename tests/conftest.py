"""Fixtures shared by the store and delivery tests: a fresh state dir, a local receiver."""

from __future__ import annotations

import pytest

from riskwatch.delivery.fake import Receiver
from riskwatch.store.db import Store


@pytest.fixture
def store(tmp_path):
    """An opened store in a fresh state dir."""
    s = Store.open(str(tmp_path / "state"))
    yield s
    s.close()


@pytest.fixture
def rx():
    """A real local HTTP receiver that apprise's json:// plugin delivers to."""
    with Receiver() as r:
        yield r
