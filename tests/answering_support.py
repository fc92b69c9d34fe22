"""A watcher over a scripted exchange and a real store, for the answering-back tests: each
cycle's lines per channel, the clock passed in (or read from freezegun's frozen time)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from riskwatch.model import Config, Defaults, Escalate, QuietWindow, Rule
from riskwatch.service.cycle import Watcher
from riskwatch.store.db import Store
from tests.engine_support import pos, snap

RULE = Rule(
    name="near-liquidation", metric="liq_gap_pct", op="<", warning=10.0, critical=4.0,
    hysteresis=1.0, repeat=600.0, worsen_by=2.0, channels=("phone",),
)  # fmt: skip


class Script:
    """The exchange: ``gaps`` maps symbol -> liq_gap_pct of a long position."""

    def __init__(self) -> None:
        self.gaps: dict[str, float] = {}

    def fetch_snapshot(self):
        return snap(*(pos(symbol=s, gap=g) for s, g in self.gaps.items()))

    def close(self) -> None:
        pass


def config(
    state_dir: str,
    *,
    rule: Rule = RULE,
    quiet: tuple[QuietWindow, ...] = (),
    timezone: str = "UTC",
    escalate: Escalate | None = None,
) -> Config:
    channels = ("phone", "pager")
    from riskwatch.model import Channel

    return Config(
        path="rules.yaml",
        state_dir=state_dir,
        channels=tuple(Channel(c, (f"json://{c}",)) for c in channels),
        defaults=Defaults(channels=("phone",)),
        rules=(replace(rule, escalate=escalate),),
        quiet_hours=quiet,
        timezone=timezone,
    )


class Rig:
    def __init__(
        self, state_dir: str, cfg: Config, clock: Callable[[], float] | None = None, routes=None
    ):
        self.routes = routes or (lambda c: {ch.name: [ch.name] for ch in c.channels})
        self.t = 1_800_000_000.0
        self.cfg = cfg
        self.state_dir = state_dir
        self.exchange = Script()
        self.clock = clock or (lambda: self.t)
        self.store = Store.open(state_dir)
        self.watcher = self._watcher()

    def _watcher(self) -> Watcher:
        return Watcher(
            self.cfg,
            client=self.exchange,
            store=self.store,
            destinations=self.routes,
            clock=self.clock,
            monotonic=time.monotonic,
        )

    def restart(self) -> None:
        self.store.close()
        self.store = Store.open(self.state_dir)
        self.watcher = self._watcher()

    def cycle(self, advance: float = 0.0) -> dict[str, list[str]]:
        """Advance the clock, run one cycle; the lines sent, per channel."""
        self.t += advance
        outcome = self.watcher.cycle()
        out: dict[str, list[str]] = {}
        for _, m in outcome.outgoing:
            out.setdefault(m.channel, []).extend(m.body.splitlines())
        return out

    def close(self) -> None:
        self.store.close()
