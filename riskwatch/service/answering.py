"""The answering layer's edge in the cycle: read what the trader said (silences, acks) and
what was remembered, let ``core.answering`` decide, and hand the cycle its writes.

Read at the start of every cycle, so ``riskwatch silence``/``ack`` and the Telegram buttons
apply within one cycle of a running daemon without a restart or a signal.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import tzinfo

from riskwatch.core import answering as core
from riskwatch.model import AlertKey, AlertState, Config, Transition
from riskwatch.render.lines import line
from riskwatch.service.journal import record
from riskwatch.store import history
from riskwatch.store import silences as stored
from riskwatch.store.db import Store

log = logging.getLogger("riskwatch.answering")

Writer = Callable[[sqlite3.Connection], None]


class Answering:
    def __init__(self, store: Store | None) -> None:
        self.store = store
        self.memory: dict[AlertKey, core.Memory] = stored.memory(store) if store else {}
        self._next: dict[AlertKey, core.Memory] | None = None
        self._cfg: Config | None = None
        self._policies: dict[str, core.Policy] = {}
        self.muted: tuple[tuple[Transition, str], ...] = ()  # this cycle's lines not sent

    def policies(self, cfg: Config) -> dict[str, core.Policy]:
        if cfg is not self._cfg:
            self._cfg, self._policies = cfg, core.policies(cfg)
        return self._policies

    def apply(
        self,
        cfg: Config,
        transitions: Sequence[Transition],
        state: dict[AlertKey, AlertState],
        now: float,
    ) -> tuple[list[Transition], dict[AlertKey, AlertState], Writer | None]:
        """The lines to send, the next state (repeat clocks moved by reminders) and the
        writes for the cycle's transaction (None: nothing to write)."""
        self._next = None
        self.muted = ()
        if self.store is None:
            return list(transitions), state, None
        silences = stored.silences(self.store, now=now)
        acks = stored.acks(self.store)
        policies = self.policies(cfg)
        configured = cfg.quiet_hours or any(p.quiet or p.escalate for p in policies.values())
        if core.idle(self.memory, silences, acks) and not configured:
            return list(transitions), state, None
        ans = core.answer(
            transitions,
            state,
            self.memory,
            silences=silences,
            acks=acks,
            policies=policies,
            timezone=cfg.timezone,
            now=now,
        )
        self.muted = ans.muted
        cleared = {k: acks[k] for k in ans.acks_cleared}
        self._next = ans.memory
        return list(ans.send), ans.state, stored.cycle_writer(self.memory, ans.memory, cleared)

    def muted_records(self, tz: tzinfo, shift: float = 0.0) -> list[history.Record]:
        """The lines this cycle did not send, for the history (a silenced alert keeps its
        history) and one INFO log line each saying why (``shift``: as ``render.line``'s)."""
        out = []
        for t, why in self.muted:
            text = line(t, tz, shift=shift)
            log.info("%s not sent (%s): %s", t.kind, why, text)
            out.append(replace(record(t, text), what=f"{t.kind}, not sent: {why}", channel=""))
        return out

    def committed(self) -> None:
        """The cycle is done (committed, or a dry run): what it decided is what is remembered."""
        if self._next is not None:
            self.memory = self._next
            self._next = None
