"""One watch cycle: fetch -> evaluate -> render -> persist, and what carries over between cycles.

The daemon loop, ``run --once`` and the demo all run this same cycle; only the loop around it
and the sink differ. I/O is confined to the injected client, store and sink; the decisions are
``engine.evaluate`` and ``render.messages_for`` (pure).
"""

from __future__ import annotations

import logging
import math
import time
import zoneinfo
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from riskwatch.core import engine, hints
from riskwatch.core.events import Event
from riskwatch.core.marks import Mark, MarkKey
from riskwatch.core.marks import apply as apply_marks
from riskwatch.errors import AuthError, ExchangeError, Unreachable
from riskwatch.exchange.base import ExchangeClient
from riskwatch.model import AlertKey, AlertState, Config, Health, Message, Snapshot, Transition
from riskwatch.render import alertmanager as am
from riskwatch.render import lines as render
from riskwatch.render.words import plural
from riskwatch.service.answering import Answering
from riskwatch.service.clock import STEP
from riskwatch.service.events import EventTracker
from riskwatch.service.journal import journal
from riskwatch.service.spot import SpotBalances
from riskwatch.store.db import Store

log = logging.getLogger("riskwatch.cycle")

META_LAST_SUCCESS = "last_success"
META_LAST_HEARTBEAT = "last_heartbeat"
META_STREAM = "stream"  # feed: stream: "up", or "down SINCE REASON" (read by ``status``)
META_ALERTMANAGER = "alertmanager"  # the Alertmanager ledger (render.alertmanager)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one cycle saw and decided (read by the loop for status, metrics and exit codes)."""

    started: float
    duration: float
    snapshot: Snapshot | None
    error: ExchangeError | None
    transitions: tuple[Transition, ...]
    outgoing: tuple[tuple[str, Message], ...]
    firing: int
    source: str = "poll"  # poll | stream (marks re-evaluated between polls)

    @property
    def refused(self) -> bool:
        return isinstance(self.error, AuthError)


class Watcher:
    """The state one watch carries between cycles: rules, alert state, health.

    ``persist=False`` is ``--dry-run``: the stored state is read, never written. ``destinations``
    maps channel names to destination keys (URL hashes for real delivery, channel names for the
    console)."""

    def __init__(
        self,
        cfg: Config,
        *,
        client: ExchangeClient,
        store: Store | None,
        destinations: Callable[[Config], Mapping[str, Sequence[str]]],
        persist: bool = True,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cfg = cfg
        self.tz = zoneinfo.ZoneInfo(cfg.timezone)
        self.shift = 0.0  # the wall clock's step from ``clock``, for stamps (SteadyClock.check)
        self._rules = engine.compile_rules(cfg.rules, cfg.defaults)  # again on each reload
        self._by_name = {r.name: r for r in cfg.rules}  # for hints
        self.spot = SpotBalances(client, clock)
        self.client = client
        self.store = store
        self.persist = persist and store is not None
        self._destinations = destinations
        self._routes = destinations(cfg)
        self.clock = clock
        self.monotonic = monotonic
        self.state: dict[AlertKey, AlertState] = store.load_state() if store else {}
        last = store.get_meta(META_LAST_SUCCESS) if store else None
        beat = store.get_meta(META_LAST_HEARTBEAT) if store else None
        self.health = Health(last_success=_float(last), started_at=clock())
        self.last_heartbeat = _float(beat)
        self.am_book = am.loads(store.get_meta(META_ALERTMANAGER) if store else None)
        self.last_snapshot: Snapshot | None = None
        self.events = EventTracker(store)
        self._last_seen: Snapshot | None = None  # the last evaluated: a poll, or one re-marked
        # feed: stream: (since, why) while a socket is down, else None (StreamFeed.down)
        self.stream_down: Callable[[], tuple[float, str] | None] | None = None
        self.answering = Answering(store)

    # ------------------------------------------------------------------ config
    def apply_config(self, cfg: Config) -> None:
        """Adopt reloaded rules; the engine resolves alerts of removed or changed rules."""
        self.cfg = cfg
        self.tz = zoneinfo.ZoneInfo(cfg.timezone)
        self._rules = engine.compile_rules(cfg.rules, cfg.defaults)
        self._by_name = {r.name: r for r in cfg.rules}
        self._routes = self._destinations(cfg)
        self.health = replace(self.health, config_error=None)

    def set_config_error(self, problem: str | None) -> None:
        self.health = replace(self.health, config_error=problem)

    # ------------------------------------------------------------------ the cycle
    def cycle(self) -> Outcome:
        check = getattr(self.clock, "check", None)  # a SteadyClock watches for clock steps
        if check is not None:
            step = check()  # durations stay steady; the stamps a trader reads follow the wall
            self.shift = step if abs(step) > STEP else 0.0
        started, t0 = self.clock(), self.monotonic()
        snapshot, error = self._fetch(started)
        decided: list[Event] = []
        if snapshot is not None:  # events (DESIGN 10): fills are read only after a change
            self.events.observe(snapshot, self.cfg)
        held = self.events.held()
        if snapshot is not None:
            decided = self.events.read(self.client, self.clock())
        outcome = self._decide(snapshot, error, started, t0, held, decided)
        if snapshot is not None:
            self.last_snapshot = snapshot
        return outcome

    def reevaluate(self, marks: Mapping[MarkKey, Mark]) -> Outcome:
        """The last poll re-marked by the stream's ticks, through the same engine, lifecycle and
        outbox as a poll. The poll stays the base: the next ticks re-mark it again, the next
        poll replaces it (and wins over older ticks). Events (fills) are a poll's business."""
        started, t0 = self.clock(), self.monotonic()
        base = self.last_snapshot
        snapshot = apply_marks(base, marks) if base is not None else None
        return self._decide(snapshot, None, started, t0, self.events.held(), None)

    def _decide(
        self,
        snapshot: Snapshot | None,
        error: ExchangeError | None,
        started: float,
        t0: float,
        held: frozenset[tuple[str, str, str]],
        decided: list[Event] | None,  # None: a re-evaluation on stream marks, not a poll
    ) -> Outcome:
        self._stream_health()
        now = self.clock()
        transitions, next_state = engine.evaluate(
            self._rules,
            snapshot,
            self.state,
            now,
            health=self.health,
            defaults=self.cfg.defaults,
            stale_after=self.cfg.exchange.stale_after,
            previous=self._last_seen or self.last_snapshot,  # a closed line's last known values
            held=held,
        )
        if snapshot is not None:
            self._last_seen = snapshot
        polled = decided is not None
        if decided is not None:
            told, next_state = self.events.conclude(
                decided, snapshot, next_state, self.cfg, self._routes, now
            )
            transitions += told
        firing = count_firing(next_state)
        # Alertmanager gets every line (it has its own silences); channels get the answered ones
        said = transitions
        transitions, next_state, also = self.answering.apply(self.cfg, said, next_state, now)
        tips = self._hints(transitions)
        lines = render.lines_of(transitions, self.tz, tips, self.shift)
        outgoing = render.messages_for(
            transitions, self._routes, now, self.tz, hints=tips, rendered=lines
        )
        if polled:
            outgoing += self._heartbeat(now, snapshot, firing)
        records = journal(transitions, lines) + self.answering.muted_records(self.tz)
        said_lines = lines
        if self.cfg.alertmanager is not None and said != transitions:
            said_lines = render.lines_of(said, self.tz, tips, self.shift)
        book, posts = am.outgoing(
            self.am_book, self.cfg, next_state, said, self._routes, now, said_lines
        )
        outgoing += posts
        meta = self._meta(snapshot if polled else None)
        if book != self.am_book:  # a steady cycle rewrites nothing
            meta[META_ALERTMANAGER] = am.dumps(book)
        if self.persist and self.store is not None:
            self.store.commit_cycle(
                next_state,
                outgoing,
                meta,
                records=records,
                forget_before=now - self.cfg.history_keep,
                also=also,
            )
        self.answering.committed()  # like the state: kept in memory by a dry run too
        self.state = next_state
        self.am_book = book
        return Outcome(
            started=started,
            duration=self.monotonic() - t0,
            snapshot=snapshot,
            error=error,
            transitions=tuple(transitions),
            outgoing=tuple(outgoing),
            firing=firing,
            source="poll" if polled else "stream",
        )

    def _stream_health(self) -> None:
        if self.stream_down is None:
            return
        down = self.stream_down()
        since, why = down if down is not None else (None, "")
        if (since, why) != (self.health.stream_down_since, self.health.stream_problem):
            self.health = replace(self.health, stream_down_since=since, stream_problem=why)

    def _meta(self, snapshot: Snapshot | None) -> dict[str, str]:
        meta: dict[str, str] = self.events.meta(snapshot)
        if self.health.last_success is not None:
            meta[META_LAST_SUCCESS] = repr(self.health.last_success)
        if self.last_heartbeat is not None:
            meta[META_LAST_HEARTBEAT] = repr(self.last_heartbeat)
        if self.stream_down is not None:
            h = self.health
            down = h.stream_down_since
            meta[META_STREAM] = "up" if down is None else f"down {down!r} {h.stream_problem}"
        return meta

    def _hints(self, transitions: Sequence[Transition]) -> dict[AlertKey, str]:
        """What would help, per line about the liquidation distance (spot read only then)."""
        figures = hints.for_lines(transitions, self._by_name)
        if not figures:
            return {}
        spot = self.spot.available({f.coin for f in figures.values()})
        return {key: render.hint_text(f, spot) for key, f in figures.items()}

    def _fetch(self, now: float) -> tuple[Snapshot | None, ExchangeError | None]:
        try:
            snapshot = self.client.fetch_snapshot()
        except AuthError as exc:
            if self.health.auth_error != exc.explanation:
                log.error("exchange refused the credentials: %s", exc.explanation)
            self.health = replace(self.health, auth_error=exc.explanation)
            return None, exc
        except ExchangeError as exc:  # an outage is logged once by the exchange edge
            level = logging.DEBUG if isinstance(exc, Unreachable) else logging.WARNING
            log.log(level, "poll failed: %s", exc)
            return None, exc
        self.health = replace(self.health, last_success=now, auth_error=None)
        return snapshot, None

    def _heartbeat(
        self, now: float, snapshot: Snapshot | None, firing: int
    ) -> list[tuple[str, Message]]:
        """A periodic "still watching" message (``heartbeat:``), only after a good poll."""
        every = self.cfg.heartbeat
        if not every or snapshot is None:
            return []
        if self.last_heartbeat is None:
            self.last_heartbeat = now  # the first one is due one period after start
            return []
        if now - self.last_heartbeat < every:
            return []
        self.last_heartbeat = now
        msg = Message(
            channel="",
            title="riskwatch: heartbeat",
            body=f"still watching {plural(len(snapshot.positions), 'position')}; "
            f"{plural(firing, 'alert')} firing",
            created_at=now,
        )
        keys: list[str] = []
        d = self.cfg.defaults
        names = d.channels or d.critical_channels or ()  # the warning channels, not a pager's
        for name in names:
            keys += [k for k in self._routes.get(name, ()) if k not in keys]
        first = names[0] if names else ""
        return [(k, replace(msg, channel=first)) for k in keys]


def count_firing(state: Mapping[AlertKey, AlertState]) -> int:
    """How many alerts fire: the one count the outcome, heartbeat, STATUS= and metrics show."""
    return sum(1 for a in state.values() if a.status == "firing")


def _float(text: str | None) -> float | None:
    """A stored figure; unreadable or not finite (a corrupt meta row) counts as none."""
    try:
        value = float(text) if text else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None
