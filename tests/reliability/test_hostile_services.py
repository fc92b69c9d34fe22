"""Slow, stalling and unreachable services and a full disk (issue 16, defects 6, 8, 12).

A service that records a message and answers a minute later must get at most two copies and
must not hold back the next alert; one that trickles its answer is a WARNING; SIGTERM ends the
daemon within five seconds whatever a send is doing; when the state dir cannot be written, a
human is told directly; a token in a URL's path is never printed.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import pytest

from riskwatch.cli.main import main
from riskwatch.delivery.fake import Receiver
from riskwatch.delivery.workers import Deliverer, RetryPolicy, routes
from riskwatch.errors import StoreError
from riskwatch.exchange.fake.server import FakeBitget
from riskwatch.model import Channel, Config, Message
from riskwatch.service.daemon import Daemon
from riskwatch.service.sdnotify import Notifier
from riskwatch.store.db import Store

from .conftest import (
    CHANNEL_TOKEN,
    Rig,
    add_safe_positions,
    creds_env,
    endanger,
    fired,
    leaks,
    rules_text,
    tally,
)

pytestmark = pytest.mark.reliability
FAST = RetryPolicy(initial=0.01, max_wait=0.05, jitter=0.0)


def _config(state_dir: str, url: str) -> Config:
    return Config(path="rules.yaml", state_dir=state_dir, channels=(Channel("phone", (url,)),))


def _queue(store: Store, cfg: Config, body: str) -> None:
    msg = Message("phone", f"riskwatch: {body}", body, time.time())
    store.commit_cycle({}, [(k, msg) for k in routes(cfg)["phone"]])


def test_a_slow_service_gets_at_most_two_copies_and_the_next_alert(tmp_path, ledger) -> None:
    """Defect 6: it records the message and answers after 60 s: 5 copies in 30 s, then the
    next alert was never sent."""
    with Receiver(max_hang=60) as rx:
        store = Store.open(str(tmp_path / "state"))
        cfg = _config(store.path, rx.url_for(send_timeout="1s"))
        d = Deliverer(cfg, store, policy=FAST)
        try:
            rx.slow(times=2, seconds=60)
            _queue(store, cfg, "first alert")
            d.deliver_all_once(timeout=10)  # no answer: uncertain, kept for one retry
            assert len(store.undelivered()) == 1
            d.deliver_all_once(timeout=10)  # no answer again: it probably arrived
            assert store.undelivered() == []
            (said,) = [r for r in store.read_history(0) if r.kind == "delivered"]
            assert said.text.startswith("no answer, twice: probably arrived")  # not "accepted"
            _queue(store, cfg, "next alert")
            d.deliver_all_once(timeout=10)
        finally:
            rx.release()
            d.close()
            store.close()
        copies = [b for b in rx.bodies() if b == "first alert"]
        assert 1 <= len(copies) <= 2
        assert rx.bodies().count("next alert") == 1
    ledger.record("hostile", faults=2, expected=2, delivered=2, duplicated=len(copies) - 1)


def test_a_trickling_service_is_a_warning_and_bounded(tmp_path, logtap, ledger) -> None:
    """Defect 6: an answer trickled byte by byte stalled its URL silently."""
    with Receiver(max_hang=60) as rx:
        store = Store.open(str(tmp_path / "state"))
        cfg = _config(store.path, rx.url_for(send_timeout="1s", user="rw", password=CHANNEL_TOKEN))
        d = Deliverer(cfg, store, policy=FAST)
        try:
            rx.trickle(times=1, every=0.2)
            _queue(store, cfg, "an alert")
            report = d.deliver_all_once(timeout=10)
        finally:
            rx.release()
            d.close()
            store.close()
    assert report.urls[0].error != "timed out"
    stalled = [ln for ln in logtap.text().splitlines() if "no answer within 1 s" in ln]
    assert stalled and stalled[0].startswith("WARNING riskwatch.notify")
    leaked = leaks([logtap.text(), str(report)])
    ledger.record("hostile", faults=1, leaked=leaked)
    assert leaked == 0


@pytest.mark.slow
def test_sigterm_ends_the_daemon_within_five_seconds_during_a_stalled_send(tmp_path, ledger):
    """Defect 6: with a send trickling, SIGTERM took 40 s. The outbox keeps the message."""
    with FakeBitget() as fx, Receiver(max_hang=120) as rx:
        symbols = add_safe_positions(fx, 2)
        endanger(fx, symbols[0])
        rx.trickle(times=5, every=0.5)
        state_dir = tmp_path / "state"
        rules = tmp_path / "rules.yaml"
        rules.write_text(rules_text(fx.url, str(state_dir), rx.url_for(user="rw", password="x")))
        argv = [sys.executable, "-m", "riskwatch", "run", "-c", str(rules)]
        proc = subprocess.Popen(argv, env=creds_env(), stderr=subprocess.PIPE)
        try:
            end = time.monotonic() + 20
            while rx.requests == 0 and time.monotonic() < end:
                time.sleep(0.05)
            assert rx.requests >= 1, "the send never started"
            time.sleep(0.3)
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=6)  # the bound under test (5 s, plus start-up)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
            rx.release()
    assert proc.returncode == 0
    assert b"Traceback" not in err
    store = Store.open(str(state_dir), quarantine=False)
    try:
        assert len(store.undelivered()) == 1, "the abandoned message stays queued"
    finally:
        store.close()
    ledger.record("hostile", faults=1, expected=1, delivered=1)


class _Sd(Notifier):
    def __init__(self) -> None:
        super().__init__({"NOTIFY_SOCKET": "/unused"})
        self.sent: list[dict[str, str]] = []

    def send(self, **fields: str) -> None:
        self.sent.append(fields)


def test_a_full_state_dir_is_said_directly_and_resumes_by_itself(tmp_path, ledger, logtap):
    """Defect 8: every channel silent, an ERROR per cycle, the watchdog healthy: nobody told."""
    with FakeBitget() as fx, Receiver() as rx:
        symbols = add_safe_positions(fx, 3)
        rig = Rig(tmp_path, fx, rx)
        store = rig.wired.store
        real_commit = store.commit_cycle
        full = threading.Event()

        def commit(*args, **kwargs):
            if full.is_set():
                raise StoreError(f"{store.path}: cannot commit cycle: database or disk is full")
            return real_commit(*args, **kwargs)

        store.commit_cycle = commit
        clock = [1000.0]
        sd = _Sd()
        d = Daemon(str(rig.path), rig.wired.watcher, rig.wired.hooks, notifier=sd)
        cycles = [0]
        real_cycle = rig.wired.watcher.cycle

        def counted():
            cycles[0] += 1
            if cycles[0] == 2:  # the disk fills; a position becomes dangerous meanwhile
                full.set()
                endanger(fx, symbols[1])
            if cycles[0] == 5:
                full.clear()
            return real_cycle()

        def wait(seconds: float) -> bool:
            clock[0] += max(seconds, 0.001)
            if cycles[0] >= 6:
                d.stop.set()
            return d.stop.is_set()

        rig.wired.watcher.cycle = counted
        d.monotonic, d.wait = (lambda: clock[0]), wait
        try:
            d.loop()
            assert rx.wait_for(3, timeout=10)  # full notice, recovery notice, the alert
        finally:
            rig.close()
    notices = [b for b in rx.bodies() if b.startswith("state dir full: alerts held")]
    assert len(notices) == 1 and d.failed is None
    assert any("state dir full: alerts held" in f.get("status", "") for f in sd.sent)
    errors = [ln for ln in logtap.text().splitlines() if ln.startswith("ERROR")]
    assert len(errors) == 1, errors
    row = tally(ledger, "hostile", rx.bodies(), [symbols[1]], faults=3)
    assert row.lost == 0 and row.duplicated == 0
    assert fired(rx.bodies(), symbols[0]) == 0


def test_a_token_in_a_url_path_is_never_printed(tmp_path, monkeypatch, capsys, logtap, ledger):
    """Defect 12: ``test-notify`` printed ``json://host/hooks/${HOOK_TOKEN}`` in full."""
    token = "hooktok-91x7ZqP4"
    monkeypatch.setenv("HOOK_TOKEN", token)
    with Receiver() as rx:
        rules = tmp_path / "rules.yaml"
        rules.write_text(
            f"state_dir: {tmp_path / 'state'}\n"
            f"channels:\n  hook: ['json://127.0.0.1:{rx.port}/hooks/${{HOOK_TOKEN}}']\n"
            "defaults:\n  channels: [hook]\nrules:\n  - name: r\n    metric: liq_gap_pct\n"
            "    op: '<'\n    warning: 15\n"
        )
        assert main(["test-notify", "-c", str(rules)]) == 0
        rx.fail(times=4, status=500)
        from riskwatch.cli.testnotify import test_channels
        from riskwatch.config import load as config

        assert test_channels(config.load(str(rules)), policy=FAST) == 5  # the failure's line too
        main(["status", "-c", str(rules)])
    out = capsys.readouterr()
    leaked = leaks([out.out, out.err, logtap.text()], extra=[token])
    ledger.record("hostile", faults=2, leaked=leaked)
    assert leaked == 0
    assert f"127.0.0.1:{rx.port}/***/***" in out.out
