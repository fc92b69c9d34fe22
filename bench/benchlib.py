"""Shared pieces of the benchmarks: machine description, rules files, the simulated account,
per-child resource usage (``os.wait4``) and RSS from ``/proc``.

Every benchmark runs against riskwatch's own simulated exchange (``FakeBitget``, a real HTTP
server on 127.0.0.1) so anyone can reproduce the figures without a Bitget account.
"""

from __future__ import annotations

import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def machine() -> str:
    """One line naming the machine the figures come from."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as fh:
            kb = int(fh.readline().split()[1])
            mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores{mem}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def rss_kib(pid: str = "self") -> int:
    """Resident set size now (VmRSS), KiB."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc status")


def pct(values: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) by linear interpolation between closest ranks."""
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def summary(values: Sequence[float], unit: str = "ms", scale: float = 1000.0) -> str:
    v = [x * scale for x in values]
    return (
        f"median {statistics.median(v):.1f} {unit}, p95 {pct(v, 0.95):.1f} {unit}, "
        f"min {min(v):.1f} {unit}, max {max(v):.1f} {unit} (n={len(v)})"
    )


@dataclass(frozen=True)
class ChildRun:
    """One child process: wall time from spawn to reap, its peak RSS and CPU, its output."""

    wall: float
    maxrss_kib: int
    cpu: float
    returncode: int
    stdout: bytes
    stderr: bytes


def stop_daemon(daemon: subprocess.Popen) -> None:
    """SIGTERM a daemon started by a benchmark and reap it; show its stderr when it failed."""
    daemon.send_signal(signal.SIGTERM)
    try:
        _, err = daemon.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        daemon.kill()
        _, err = daemon.communicate()
    if daemon.returncode != 0:
        sys.stderr.write(err.decode(errors="replace")[-2000:])


def report_latency(lat: Sequence[float], target_p95: float, exit_code: int | None) -> bool:
    """Print the latency figures of a trial run; True when p95 met ``target_p95``."""
    p50, p95 = pct(lat, 0.5), pct(lat, 0.95)
    print(f"  latency: {summary(lat)}")
    met = p95 <= target_p95
    print(
        f"  p50 {p50:.3f} s, p95 {p95:.3f} s (target p95 <= {target_p95} s) "
        f"{'OK' if met else 'MISSED'}; daemon exit {exit_code}"
    )
    return met


def run_child(argv: Sequence[str], *, env: dict[str, str], timeout: float = 120.0) -> ChildRun:
    """Spawn ``argv`` and reap it with ``os.wait4`` so the rusage is this child's alone."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        list(argv), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT
    )
    # Read both pipes until EOF (the child exits), then reap with wait4 for its own rusage.
    out, err = _drain(proc, timeout)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return ChildRun(
        wall=wall,
        maxrss_kib=usage.ru_maxrss,
        cpu=usage.ru_utime + usage.ru_stime,
        returncode=proc.returncode,
        stdout=out,
        stderr=err,
    )


def _drain(proc: subprocess.Popen, timeout: float) -> tuple[bytes, bytes]:
    import selectors

    sel = selectors.DefaultSelector()
    bufs: dict[int, list[bytes]] = {}
    for f in (proc.stdout, proc.stderr):
        assert f is not None
        sel.register(f, selectors.EVENT_READ)
        bufs[f.fileno()] = []
    end = time.monotonic() + timeout
    open_files = 2
    while open_files:
        left = end - time.monotonic()
        if left <= 0:
            proc.kill()
            raise TimeoutError(f"{proc.args!r} did not finish in {timeout}s")
        for key, _ in sel.select(left):
            chunk = os.read(key.fd, 65536)
            if chunk:
                bufs[key.fd].append(chunk)
            else:
                sel.unregister(key.fileobj)
                open_files -= 1
    assert proc.stdout is not None and proc.stderr is not None
    out = b"".join(bufs[proc.stdout.fileno()])
    err = b"".join(bufs[proc.stderr.fileno()])
    proc.stdout.close()
    proc.stderr.close()
    return out, err


def rules_yaml(
    *,
    base_url: str,
    state_dir: str,
    urls: Sequence[str] = ("console://",),
    poll_interval: str = "10s",
    threshold: float = 15.0,
    critical: float = 5.0,
    send_resolved: bool = True,
    repeat: str = "30m",
) -> str:
    """The rules file of the benchmarks: the near-liquidation rule every trader starts with."""
    url_list = ", ".join(f'"{u}"' for u in urls)
    return f"""\
exchange:
  api: v2
  base_url: {base_url}
  fallback_url: {base_url}
  product_types: [USDT-FUTURES]
  poll_interval: {poll_interval}
state_dir: {state_dir}
channels:
  out: [{url_list}]
defaults:
  channels: [out]
  repeat: {repeat}
  send_resolved: {"true" if send_resolved else "false"}
rules:
  - name: near-liquidation
    metric: liq_gap_pct
    op: "<"
    warning: {threshold}
    critical: {critical}
    hysteresis: 1
"""


def creds_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    from riskwatch.exchange.fake.server import FakeBitget

    env = dict(os.environ)
    env.update(FakeBitget.credentials_env())
    for var in ("CREDENTIALS_DIRECTORY", "NOTIFY_SOCKET", "WATCHDOG_USEC", "RISKWATCH_CONFIG"):
        env.pop(var, None)
    env.update(extra or {})
    return env


# --------------------------------------------------------------------------- the simulated account


def populate(fx, n: int, *, firing: float = 0.10) -> list[str]:
    """``n`` USDT-FUTURES positions, a ``firing`` fraction of them 6-14 % from liquidation (a
    warning under the 15 % rule), the rest 20-60 % away. Returns the safe symbols."""
    from decimal import Decimal

    from riskwatch.exchange.fake.state import FakePosition

    every = max(1, round(1 / firing)) if firing else n + 1
    safe: list[str] = []

    def fill(book) -> None:
        for i in range(n):
            side = "long" if i % 2 else "short"
            symbol = f"C{i}USDT"
            mark = Decimal(100 + i % 900)
            gap = Decimal(6 + i % 9) if i % every == 0 else Decimal(20 + i % 41)
            if i % every:
                safe.append(symbol)
            k = gap / 100
            liq = mark * (1 - k) if side == "long" else mark * (1 + k)
            book.positions[("USDT-FUTURES", symbol, side)] = FakePosition(
                "USDT-FUTURES",
                symbol,
                side,
                Decimal(1),
                mark,
                mark,
                liquidation=liq.quantize(Decimal("0.0001")),
            )

    fx.book.mutate(fill)
    return safe


def side_of(symbol: str) -> str:
    """The side ``populate`` gave ``symbol``."""
    return "long" if int(symbol[1:-4]) % 2 else "short"


class FakeServer:
    """The simulated exchange in its own process, so the figures measure riskwatch alone (the
    server's CPU and memory are not in them, as a real exchange's would not be)."""

    def __init__(self, positions: int, firing: float = 0.10) -> None:
        self.positions, self.firing = positions, firing
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def __enter__(self) -> FakeServer:
        self.proc = subprocess.Popen(
            [PYTHON, __file__, "serve", str(self.positions), str(self.firing)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=ROOT,
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().decode().strip()
        if not self.url.startswith("http://"):
            raise RuntimeError("the simulated exchange did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()  # EOF: the server stops
            self.proc.wait(10)


def _serve(n: int, firing: float) -> None:
    from riskwatch.exchange.fake.server import FakeBitget

    with FakeBitget() as fx:
        populate(fx, n, firing=firing)
        print(fx.url, flush=True)
        sys.stdin.read()


if __name__ == "__main__" and sys.argv[1:2] == ["serve"]:
    _serve(int(sys.argv[2]), float(sys.argv[3]))


# --------------------------------------------------------------------------- in-process watcher


def build_watcher(base_url: str, workdir: str, *, rate_limit: bool = False, clock=None, **rules):
    """The production wiring (``riskwatch.service.wiring.wire``) for a rules file written in
    ``workdir``, console output discarded. The client-side rate limiter is off unless asked
    for (DESIGN 8 "Benchmarks": a cycle is timed, not Bitget's 5 requests/s allowance)."""
    from riskwatch.config import load as config
    from riskwatch.service.wiring import wire

    path = Path(workdir) / "rules.yaml"
    path.write_text(rules_yaml(base_url=base_url, state_dir=str(Path(workdir) / "state"), **rules))
    env = creds_env()
    cfg = config.load(str(path), environ=env)
    sink = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the watcher
    kw = {"clock": clock} if clock is not None else {}
    return wire(cfg, environ=env, out=sink, rate_limit=rate_limit, **kw)
