"""``riskwatch test-notify``: one line per URL, privacy-masked; exit 0 / 5 / 1."""

from __future__ import annotations

from riskwatch.cli.main import main
from riskwatch.cli.testnotify import test_channels as send_tests
from riskwatch.delivery.fake import Receiver
from riskwatch.delivery.workers import RetryPolicy
from riskwatch.model import Channel, Config

TOKEN = "tokenTOKEN123456"
FAST = RetryPolicy(initial=0.01, max_wait=0.02, jitter=0)


def _rules(tmp_path, **channels: list[str]) -> str:
    path = tmp_path / "rules.yaml"
    chans = "".join(
        f"  {n}: [{', '.join(repr(u) for u in urls)}]\n" for n, urls in channels.items()
    )
    first = next(iter(channels))
    path.write_text(
        f"state_dir: {tmp_path / 'state'}\nchannels:\n{chans}defaults:\n  channels: [{first}]\n"
        "rules:\n  - name: r\n    metric: liq_gap_pct\n    op: '<'\n    warning: 15\n"
    )
    return str(path)


def test_every_url_accepts(tmp_path, capsys):
    with Receiver() as rx:
        rx.fail(1, status=429)  # retried like a real alert
        url = rx.url_for("a", user="bot", password=TOKEN)
        assert main(["test-notify", "-c", _rules(tmp_path, phone=[url])]) == 0
        assert len(rx.received) == 1 and rx.received[0].title == "riskwatch: test message"
    out = capsys.readouterr().out
    assert f"phone  json://bot:****@127.0.0.1:{rx.port}/***  ok (2 attempts)" in out
    assert "1 of 1 URL accepted" in out
    assert TOKEN not in out


def test_one_failure_exits_5_and_still_tests_the_rest(tmp_path, capsys):
    with Receiver() as good, Receiver() as bad:
        bad.always(500)
        cfg = Config(
            path="r", channels=(Channel("phone", (bad.url,)), Channel("team", (good.url,)))
        )
        assert send_tests(cfg, policy=FAST) == 5
        assert len(good.received) == 1
    out = capsys.readouterr().out
    assert f"phone  json://127.0.0.1:{bad.port}/  FAILED: " in out and "error=500" in out
    assert f"team  json://127.0.0.1:{good.port}/  ok (1 attempt)" in out
    assert "1 of 2 URLs accepted" in out


def test_only_the_named_channel(tmp_path, capsys):
    with Receiver() as a, Receiver() as b:
        path = _rules(tmp_path, phone=[a.url], team=[b.url])
        assert main(["test-notify", "-c", path, "--channel", "team"]) == 0
        assert (len(a.received), len(b.received)) == (0, 1)


def test_unknown_channel_exits_1(tmp_path, capsys):
    path = _rules(tmp_path, phone=["console://"])
    assert main(["test-notify", "-c", path, "--channel", "nope"]) == 1
    err = capsys.readouterr().err
    assert "unknown channel 'nope'" in err and "phone" in err
