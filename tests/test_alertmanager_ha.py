"""HA with the real thing: two riskwatch daemons feeding a two-node Alertmanager cluster.

Debian's ``prometheus-alertmanager`` (``.ci/run`` installs it) runs twice on 127.0.0.1,
clustered by ``--cluster.peer``, with one webhook receiver (``delivery.fake.Receiver``). Two
``riskwatch run`` processes watch the same simulated exchange with the same rules and their own
state dirs. Each alert must be notified once and resolved once; after SIGKILL of one riskwatch
and of the Alertmanager that notifies first (peer position 0), a new alert must still be
notified once. Waits are bounded polls for an arrival, plus a quiet spell after it that lets a
duplicate show itself (longer than the second peer's wait of one ``--cluster.peer-timeout``).

Alertmanager's timers set the wall time: ``group_wait`` 1s, ``group_interval`` 3s (above
``--cluster.peer-timeout`` 2s, Alertmanager #3283), gossip every 50ms. The peer timeout is what
keeps the pair from notifying twice: the first peer writes (and gossips) its notification log
entry only once the webhook answered, so the second peer's wait must outlast a slow receiver
on a loaded machine, not just the gossip. About 30 s.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from riskwatch.delivery.fake import Receiver
from riskwatch.exchange.fake.server import FakeBitget

pytestmark = pytest.mark.slow

BINARY = "/usr/bin/prometheus-alertmanager"
PEER_TIMEOUT = 2.0
QUIET = 2 * PEER_TIMEOUT + 1.0  # a duplicate from the second peer would have come by then

AM_CONFIG = """\
route:
  receiver: hook
  group_by: ['...']
  group_wait: 1s
  group_interval: 3s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: {hook}
        send_resolved: true
"""

RULES = """\
exchange:
  api: v2
  base_url: {url}
  fallback_url: {url}
  poll_interval: 1s
  stale_after: 1h
  timeout: 2s
state_dir: {state}
alertmanager:
  urls: [{am1}, {am2}]
  resend: 30s
  timeout: 2s
rules:
  - name: near-liquidation
    metric: liq_gap_pct
    op: "<"
    warning: 8
"""


def binary() -> str:
    if os.path.exists(BINARY):
        return BINARY
    found = shutil.which("alertmanager") or shutil.which("prometheus-alertmanager")
    if not found:
        pytest.skip(
            f"{BINARY} is not installed (apt-get install prometheus-alertmanager; .ci/run does)"
        )
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str) -> object:
    with urllib.request.urlopen(url, timeout=2) as resp:
        return json.load(resp)


def wait_until(what: str, check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class Alertmanager:
    name: str
    web: int
    cluster: int
    proc: subprocess.Popen | None = None
    log: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web}"

    def start(self, exe: str, tmp: Path, config: Path, peer: int) -> None:
        data = tmp / self.name
        data.mkdir()
        self.proc = subprocess.Popen(
            [
                exe,
                f"--config.file={config}",
                f"--storage.path={data}",
                f"--web.listen-address=127.0.0.1:{self.web}",
                f"--cluster.listen-address=127.0.0.1:{self.cluster}",
                f"--cluster.peer=127.0.0.1:{peer}",
                f"--cluster.peer-timeout={int(PEER_TIMEOUT * 1000)}ms",
                "--cluster.gossip-interval=50ms",
                "--cluster.pushpull-interval=1s",
                "--cluster.probe-interval=200ms",
                "--cluster.probe-timeout=100ms",
                "--cluster.settle-timeout=5s",
                "--log.level=warn",
            ],
            stdout=subprocess.DEVNULL,
            stderr=(tmp / f"{self.name}.log").open("w"),
        )
        self.log = tmp / f"{self.name}.log"

    def ready(self, peers: int) -> bool:
        if self.proc is not None and self.proc.poll() is not None:  # e.g. its port was taken
            said = self.log.read_text()[-400:] if self.log else ""
            raise AssertionError(f"{self.name} exited {self.proc.returncode}: {said}")
        status = get_json(f"{self.url}/api/v2/status")
        cluster = status["cluster"]  # type: ignore[index]
        return cluster["status"] == "ready" and len(cluster.get("peers") or []) == peers

    def position(self) -> int:
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=2) as resp:
            for line in resp.read().decode().splitlines():
                if line.startswith("alertmanager_peer_position"):
                    return int(float(line.split()[-1]))
        raise AssertionError("no alertmanager_peer_position metric")


@dataclass
class Cluster:
    fake: FakeBitget
    hook: Receiver
    ams: list[Alertmanager]
    daemons: list[subprocess.Popen] = field(default_factory=list)

    def notified(self, symbol: str) -> Counter[str]:
        """How often the receiver was told of ``symbol``'s alert, by status."""
        seen: Counter[str] = Counter()
        for got in self.hook.received:
            for alert in got.payload.get("alerts", []):
                if alert["labels"].get("symbol") == symbol:
                    seen[alert["status"]] += 1
        return seen

    def expect(self, symbol: str, firing: int, resolved: int) -> None:
        want = +Counter({"firing": firing, "resolved": resolved})

        def arrived() -> bool:
            seen = self.notified(symbol)
            return all(seen[k] >= n for k, n in want.items())

        wait_until(f"{symbol}: {dict(want)} (seen {dict(self.notified(symbol))})", arrived)
        time.sleep(QUIET)  # a duplicate would arrive by now
        seen = self.notified(symbol)
        assert seen == want, f"{symbol}: notified {dict(seen)}, expected {dict(want)}"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    exe = binary()
    with FakeBitget() as fake, Receiver() as hook:
        fake.add_position("BTCUSDT", "long", mark="100000", liquidation="90000", total="0.1")
        fake.add_position("ETHUSDT", "short", mark="2500", liquidation="2800", total="1")
        config = tmp_path / "alertmanager.yml"
        config.write_text(AM_CONFIG.format(hook=hook.http_url + "hook"))
        ams = [Alertmanager(f"am{i}", free_port(), free_port()) for i in (1, 2)]
        ams[0].start(exe, tmp_path, config, ams[1].cluster)
        ams[1].start(exe, tmp_path, config, ams[0].cluster)
        c = Cluster(fake, hook, ams)
        try:
            for am in ams:
                wait_until(f"{am.name} clustered", lambda am=am: am.ready(peers=2))
            env = {k: v for k, v in os.environ.items() if not k.startswith(("BITGET_", "NOTIFY"))}
            env.update(FakeBitget.credentials_env())
            for i in (1, 2):
                rules = tmp_path / f"rules{i}.yaml"
                rules.write_text(
                    RULES.format(
                        url=fake.url, state=tmp_path / f"state{i}", am1=ams[0].url, am2=ams[1].url
                    )
                )
                c.daemons.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "riskwatch", "run", "-c", str(rules)],
                        env=env,
                        stdout=subprocess.DEVNULL,
                        stderr=(tmp_path / f"riskwatch{i}.log").open("w"),
                    )
                )
            yield c
        finally:
            for proc in [*c.daemons, *(am.proc for am in ams)]:
                if proc is not None and proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in [*c.daemons, *(am.proc for am in ams)]:
                if proc is not None:
                    try:
                        proc.wait(10)
                    except subprocess.TimeoutExpired:
                        proc.kill()


def test_two_riskwatch_two_alertmanagers_notify_once_and_survive_a_kill_of_each(cluster):
    c = cluster
    c.hook.slow(1, 1.0)  # the first notification is answered late (a loaded receiver): the
    # notifying peer logs it only then, and the other peer's wait must outlast that
    c.fake.set_mark("BTCUSDT", "92000")  # 2.2 % from liquidation: below warning 8
    c.expect("BTCUSDT", firing=1, resolved=0)
    c.fake.set_mark("BTCUSDT", "100000")
    c.expect("BTCUSDT", firing=1, resolved=1)

    first = next(am for am in c.ams if am.position() == 0)
    os.kill(c.daemons[0].pid, signal.SIGKILL)
    assert first.proc is not None
    first.proc.kill()  # SIGKILL: the peer that would notify first is gone
    c.daemons[0].wait(5)
    first.proc.wait(5)

    c.fake.set_mark("ETHUSDT", "2700")  # short: 3.7 % from liquidation
    c.expect("ETHUSDT", firing=1, resolved=0)
    c.fake.set_mark("ETHUSDT", "2500")
    c.expect("ETHUSDT", firing=1, resolved=1)
    assert c.notified("BTCUSDT") == Counter({"firing": 1, "resolved": 1}), "nothing repeated"
    webhook = c.hook.received[-1].payload
    (alert,) = webhook["alerts"]
    assert alert["labels"]["source"] == "riskwatch" and alert["labels"]["side"] == "short"
    assert alert["annotations"]["summary"].startswith("RESOLVED near-liquidation ETHUSDT short")
