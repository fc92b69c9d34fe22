"""``riskwatch ack`` and ``riskwatch silence`` on a running daemon (a real process, the
simulated exchange, a real receiver): each applies within a cycle, without a restart."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from tests.test_daemon_process import Setup, arrived, count, daemon, setup, wait_polls  # noqa: F401 - the fixtures

pytestmark = pytest.mark.slow


def cli(s: Setup, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "riskwatch", *args, "-c", str(s.rules)],
        env=s.env, capture_output=True, text=True, timeout=30,
    )  # fmt: skip


def test_ack_and_silence_from_the_shell_apply_to_a_running_daemon(
    setup: Setup,  # noqa: F811
    daemon,  # noqa: F811
) -> None:
    setup.write_rules()
    setup.rules.write_text(setup.rules.read_text().replace("repeat: 1h", "repeat: 1s"))
    daemon()
    setup.fake.set_mark("BTCUSDT", "95000")  # 5.26 % from liquidation: warning
    arrived(setup.rx, "WARNING near-liquidation BTCUSDT long")
    acked = cli(setup, "ack", "near-liquidation", "btcusdt")
    assert acked.returncode == 0, acked.stderr
    assert acked.stdout == "acked near-liquidation BTCUSDT long (warning)\n"
    wait_polls(setup.fake, 2)  # applied within one cycle
    before = count(setup.rx, "still firing")
    wait_polls(setup.fake, 3)
    assert count(setup.rx, "still firing") == before  # no repeats while acked
    assert "Acknowledged (1):" in cli(setup, "status").stdout

    added = cli(setup, "silence", "add", "--symbol", "BTC*", "--for", "1h", "--comment", "margin")
    assert added.returncode == 0, added.stderr
    sid = added.stdout.strip()
    listed = cli(setup, "silence", "list").stdout
    assert sid in listed and "symbol=BTC*" in listed and "margin" in listed
    wait_polls(setup.fake, 2)
    setup.fake.set_mark("BTCUSDT", "91000")  # critical, but silenced
    wait_polls(setup.fake, 3)
    assert count(setup.rx, "CRITICAL") == 0
    assert cli(setup, "silence", "expire", sid).returncode == 0
    body = arrived(setup.rx, "silence ended, still firing")
    assert "CRITICAL near-liquidation BTCUSDT long" in body


def test_from_the_phone_ack_silence_and_status_on_a_running_daemon(
    setup: Setup,  # noqa: F811
    daemon,  # noqa: F811
) -> None:
    from riskwatch.delivery.fake_telegram import FakeTelegram

    with FakeTelegram() as tg:
        setup.write_rules()
        text = setup.rules.read_text().replace("repeat: 1h", "repeat: 2s")
        text = text.replace(f'rx: ["{setup.rx.url}"]', f'rx: ["tgram://{tg.token}/42"]')
        telegram = f'telegram: {{token: "{tg.token}", chats: [42], api_url: "{tg.api_url}"}}\n'
        setup.rules.write_text(telegram + text)
        proc = daemon()
        setup.fake.set_mark("BTCUSDT", "95000")
        assert tg.wait_for(lambda: any(s.buttons() for s in tg.sent), 20), tg.sent
        alert = next(s for s in tg.sent if s.buttons())
        assert alert.text.splitlines()[1].startswith("WARNING near-liquidation BTCUSDT long")
        tg.press(alert, alert.buttons()[0][0][1], name="alice")
        assert tg.wait_for(lambda: alert.edits, 20)
        assert alert.buttons()[0][0][0] == "BTCUSDT long: acked by alice"
        tg.command(42, "/status")
        assert tg.wait_for(lambda: any("acked by alice" in s.text for s in tg.sent), 20)
        tg.command(666, "/status")  # a stranger: nothing
        tg.command(42, "/silence near-liquidation BTCUSDT 1h")
        assert tg.wait_for(lambda: any(s.text.startswith("silenced") for s in tg.sent), 20)
        assert tg.pending_updates() == 0 or tg.wait_for(lambda: tg.pending_updates() == 0, 30)
        assert not any(s.chat_id == "666" for s in tg.sent)
        assert "ignoring updates from chat 666" in setup.stderr()
        listed = cli(setup, "silence", "list").stdout
        assert "rule=near-liquidation symbol=BTCUSDT side=long" in listed and "alice" in listed
        proc.send_signal(signal.SIGTERM)  # a getUpdates long poll (25 s) is in flight
        assert proc.wait(timeout=6) == 0
        err = setup.stderr()
        assert "Traceback" not in err and tg.token not in err
        kept = b"".join(p.read_bytes() for p in setup.state.iterdir() if p.is_file())
        assert tg.token.encode() not in kept  # nor in the state dir
