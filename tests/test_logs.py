"""Logging: one line per event to the current stderr, secrets masked."""

from __future__ import annotations

import io
import logging
import sys

from riskwatch import logs


def test_log_lines_follow_stderr_when_it_is_swapped(monkeypatch):
    logs.configure("info")
    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    logging.getLogger("riskwatch.test").info("one")
    monkeypatch.setattr(sys, "stderr", second)
    logging.getLogger("riskwatch.test").info("two")
    assert "one" in first.getvalue() and "two" not in first.getvalue()
    assert "two" in second.getvalue()


def test_registered_secrets_are_masked_and_tracebacks_are_one_line(monkeypatch):
    logs.configure("info")
    out = io.StringIO()
    monkeypatch.setattr(sys, "stderr", out)
    logs.register_secret("tok-123456-secret")
    try:
        raise ValueError("bad token tok-123456-secret")
    except ValueError:
        logging.getLogger("riskwatch.test").exception("failed with tok-123456-secret")
    text = out.getvalue()
    assert "tok-123456-secret" not in text and text.count(logs.MASK) == 2
    assert "Traceback" not in text and len(text.strip().splitlines()) == 1
    assert "failed with *** | ValueError: bad token ***" in text
