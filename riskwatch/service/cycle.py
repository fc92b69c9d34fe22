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

from riskwatch.config import accounts
from riskwatch.core import engine, hints
from riskwatch.core.marks import Mark, MarkKey
from riskwatch.core.marks import apply as apply_marks
from riskwatch.errors import AuthError, ExchangeError
from riskwatch.exchange.base import ExchangeClient
from riskwatch.model import (
    AccountSettings,
    AlertKey,
    AlertState,
    Config,
    Health,
    Message,
    Snapshot,
    Transition,
)
from riskwatch.render import alertmanager as am
from riskwatch.render import lines as render
from riskwatch.render.words import plural
from riskwatch.service.accounts import AccountWatch, Poll, Poller, back_off, first_error
from riskwatch.service.answering import Answering
from riskwatch.service.clock import STEP, not_ahead
from riskwatch.service.events import EventTracker, meta_key
from riskwatch.service.journal import journal
from riskwatch.service.spot import SpotBalances
from riskwatch.store.db import Store

log = logging.getLogger("riskwatch.cycle")

RESTART_ONLY = ("exchange", "accounts", "state_dir")  # read once at start
META_LAST_SUCCESS = "last_success"
META_LAST_HEARTBEAT = "last_heartbeat"
META_STREAM = "stream"  # feed: stream: "up", or "down SINCE REASON" (read by ``status``)
META_ALERTMANAGER = "alertmanager"  # the Alertmanager ledger (render.alertmanager)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one cycle saw and decided (read by the loop for status, metrics and exit codes).

    ``snapshot`` and ``error`` are the first watched account's (all a one-account file has);
    ``snapshots`` holds every account's good poll and ``errors`` each failed one by account
    name (DESIGN 14). ``error`` is, with several accounts, the first refusal, else the first
    outage: what ``run --once`` exits by."""

    started: float
    duration: float
    snapshot: Snapshot | None
    error: ExchangeError | None
    transitions: tuple[Transition, ...]
    outgoing: tuple[tuple[str, Message], ...]
    firing: int
    source: str = "poll"  # poll | stream (marks re-evaluated between polls)
    snapshots: tuple[Snapshot, ...] = ()
    errors: tuple[tuple[str, ExchangeError], ...] = ()

    @property
    def refused(self) -> bool:
        """Every account refused: the daemon backs off (one refused account among good ones
        is polled on as usual, a request per interval)."""
        if not self.errors:
            return isinstance(self.error, AuthError)
        return not self.snapshots and all(isinstance(e, AuthError) for _, e in self.errors)


class Watcher:
    """The state one watch carries between cycles: rules, alert state, each account's health.

    ``persist=False`` is ``--dry-run``: the stored state is read, never written. ``destinations``
    maps channel names to destination keys (URL hashes for real delivery, channel names for the
    console). ``clients`` maps each watched account's name to its client; ``client`` is the
    one client of a one-account file."""

    def __init__(
        self,
        cfg: Config,
        *,
        client: ExchangeClient | None = None,
        clients: Mapping[str, ExchangeClient] | None = None,
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
        self.store = store
        self.persist = persist and store is not None
        self._destinations = destinations
        self._routes = destinations(cfg)
        self.clock = clock
        self.monotonic = monotonic
        self.state = not_ahead(store.load_state() if store else {}, clock())
        beat = _float(store.get_meta(META_LAST_HEARTBEAT) if store else None)
        self.last_heartbeat = None if beat is None else min(beat, clock())  # ahead: now
        self.am_book = am.loads(store.get_meta(META_ALERTMANAGER) if store else None)
        self.config_error: str | None = None
        if clients is None:
            assert client is not None, "a Watcher needs a client"
            clients = {accounts.watched(cfg)[0].name: client}
        self.accounts = [self._watch(a, clients[a.name]) for a in accounts.watched(cfg)]
        self._poller = Poller(len(self.accounts))
        # feed: stream: (since, why) while a socket is down, else None (StreamFeed.down)
        self.stream_down: Callable[[], tuple[float, str] | None] | None = None
        self.answering = Answering(store)

    def _watch(self, account: AccountSettings, client: ExchangeClient) -> AccountWatch:
        name = account.name
        last = _float(
            self.store.get_meta(meta_key(META_LAST_SUCCESS, name)) if self.store else None
        )
        if last is not None:  # stored while the clock was ahead: now (see ``not_ahead``)
            last = min(last, self.clock())
        health = Health(last_success=last, started_at=self.clock(), account=name)
        events = EventTracker(self.store, name, watching=account.exchange)
        spot = SpotBalances(client, self.clock)
        return AccountWatch(name, client, health, events, spot, named=accounts.named(self.cfg))

    # ------------------------------------------------------------------ one-account views
    @property
    def client(self) -> ExchangeClient:
        return self.accounts[0].client

    @property
    def health(self) -> Health:
        """The first account's health with the daemon's config error (one-account view)."""
        return replace(self.accounts[0].health, config_error=self.config_error)

    @property
    def last_snapshot(self) -> Snapshot | None:
        return self.accounts[0].last_snapshot

    @last_snapshot.setter
    def last_snapshot(self, snapshot: Snapshot | None) -> None:
        self.accounts[0].last_snapshot = snapshot

    @property
    def healths(self) -> list[Health]:
        """Each account's health, the config error on the first (the engine's input)."""
        first, *rest = (a.health for a in self.accounts)
        return [replace(first, config_error=self.config_error), *rest]

    def close(self) -> None:
        self._poller.close()

    # ------------------------------------------------------------------ config
    def apply_config(self, cfg: Config) -> Config:
        """Adopt reloaded rules (the engine resolves alerts of removed or changed rules) and
        return them as adopted: ``exchange``, ``accounts`` and ``state_dir`` change only on
        restart (their clients, pool and store are built once), so the old ones are kept."""
        old = self.cfg
        kept = {k: getattr(old, k) for k in RESTART_ONLY}
        if any(getattr(cfg, k) != v for k, v in kept.items()):
            log.warning("changes to exchange, accounts or state_dir take effect on restart")
            cfg = replace(cfg, **kept)
        self.cfg = cfg
        self.tz = zoneinfo.ZoneInfo(cfg.timezone)
        self._rules = engine.compile_rules(cfg.rules, cfg.defaults)
        self._by_name = {r.name: r for r in cfg.rules}
        self._routes = self._destinations(cfg)
        self.config_error = None
        return cfg

    def set_config_error(self, problem: str | None) -> None:
        self.config_error = problem

    # ------------------------------------------------------------------ the cycle
    def cycle(self, *, patient: bool = False) -> Outcome:
        """One cycle. With several accounts it waits for their polls at most
        ``min(timeout, poll_interval / 2)``: a slower account is taken at the next cycle
        (``service.accounts.Poller``). ``patient`` waits for every poll (``run --once``: there
        is no next cycle, and its exit status says what each account's poll did)."""
        check = getattr(self.clock, "check", None)  # a SteadyClock watches for clock steps
        if check is not None:
            step = check()  # durations stay steady; the stamps a trader reads follow the wall
            self.shift = step if abs(step) > STEP else 0.0
        started, t0 = self.clock(), self.monotonic()
        ex = self.cfg.exchange
        budget = None if patient else min(ex.timeout, ex.poll_interval / 2)
        due = [a for a in self.accounts if patient or a.due(t0)]
        done = {
            p.watch.name: p for p in self._poller.poll(due, self.cfg, started, self.clock, budget)
        }
        polls = [done.get(a.name) or Poll(a, None, None) for a in self.accounts]
        if len(self.accounts) > 1:  # one account: the daemon's loop backs off (Outcome.refused)
            back_off(polls, t0, ex.poll_interval)
        outcome = self._decide(polls, started, t0, polled=True)
        for p in polls:
            if p.snapshot is not None:
                p.watch.last_snapshot = p.snapshot
        return outcome

    def reevaluate(self, marks: Mapping[MarkKey, Mark]) -> Outcome:
        """The last polls re-marked by the stream's ticks, through the same engine, lifecycle
        and outbox as a poll. The poll stays the base: the next ticks re-mark it again, the next
        poll replaces it (and wins over older ticks). Events (fills) are a poll's business."""
        started, t0 = self.clock(), self.monotonic()
        polls = [
            Poll(
                a,
                apply_marks(a.last_snapshot, marks) if a.last_snapshot else None,
                None,
                held=a.events.held(),
            )
            for a in self.accounts
        ]
        return self._decide(polls, started, t0, polled=False)

    def _decide(self, polls: Sequence[Poll], started: float, t0: float, polled: bool) -> Outcome:
        self._stream_health()
        now = self.clock()
        snapshots = [p.snapshot for p in polls if p.snapshot is not None]
        held = frozenset().union(*(p.held for p in polls))
        transitions, next_state = engine.evaluate(
            self._rules,
            snapshots,
            self.state,
            now,
            health=self.healths,
            defaults=self.cfg.defaults,
            stale_after=self.cfg.exchange.stale_after,
            previous=[s for a in self.accounts if (s := a.last_seen or a.last_snapshot)],
            held=held,
            accounts=[a.name for a in self.accounts],
        )
        for p in polls:
            if p.snapshot is not None:
                p.watch.last_seen = p.snapshot
            if polled and p.snapshot is not None:
                told, next_state = p.watch.events.conclude(
                    p.decided, p.snapshot, next_state, self.cfg, self._routes, now
                )
                transitions += told
        firing = count_firing(next_state)
        # Alertmanager gets every line (it has its own silences); channels get the answered ones
        said = transitions
        transitions, next_state, also = self.answering.apply(self.cfg, said, next_state, now)
        tips = self._hints(transitions)
        named = accounts.named(self.cfg)
        lines = render.lines_of(transitions, self.tz, tips, self.shift, named=named)
        outgoing = render.messages_for(
            transitions, self._routes, now, self.tz, hints=tips, rendered=lines, named=named
        )
        if polled:
            outgoing += self._heartbeat(now, snapshots, firing)
        records = journal(transitions, lines) + self.answering.muted_records(self.tz, self.shift)
        said_lines = lines
        if self.cfg.alertmanager is not None and said != transitions:
            said_lines = render.lines_of(said, self.tz, tips, self.shift, named=named)
        book, posts = am.outgoing(
            self.am_book, self.cfg, next_state, said, self._routes, now, said_lines
        )
        outgoing += posts
        meta = self._meta(polls if polled else ())
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
        first = polls[0]
        return Outcome(
            started=started,
            duration=self.monotonic() - t0,
            snapshot=first.snapshot,
            error=first.error if len(polls) == 1 else first_error(polls),
            transitions=tuple(transitions),
            outgoing=tuple(outgoing),
            firing=firing,
            source="poll" if polled else "stream",
            snapshots=tuple(snapshots),
            errors=tuple((p.watch.name, p.error) for p in polls if p.error is not None),
        )

    def _stream_health(self) -> None:
        if self.stream_down is None:
            return
        down = self.stream_down()
        since, why = down if down is not None else (None, "")
        first = self.accounts[0]  # the stream watches the one account (config says so)
        h = first.health
        if (since, why) != (h.stream_down_since, h.stream_problem):
            first.health = replace(h, stream_down_since=since, stream_problem=why)

    def _meta(self, polls: Sequence[Poll]) -> dict[str, str]:
        meta: dict[str, str] = {}
        for p in polls:  # a poll still running leaves its account's rows alone
            if p.snapshot is None and p.error is None:
                continue
            a = p.watch
            meta.update(a.events.meta(p.snapshot))
            if a.health.last_success is not None:
                meta[meta_key(META_LAST_SUCCESS, a.name)] = repr(a.health.last_success)
        if self.last_heartbeat is not None:
            meta[META_LAST_HEARTBEAT] = repr(self.last_heartbeat)
        if self.stream_down is not None:
            h = self.accounts[0].health
            down = h.stream_down_since
            meta[META_STREAM] = "up" if down is None else f"down {down!r} {h.stream_problem}"
        return meta

    def _hints(self, transitions: Sequence[Transition]) -> dict[AlertKey, str]:
        """What would help, per line about the liquidation distance (spot read only then, of
        the account whose position it is)."""
        figures = hints.for_lines(transitions, self._by_name)
        if not figures:
            return {}
        spot: dict[str, dict[str, float]] = {}
        for a in self.accounts:
            coins = {f.coin for key, f in figures.items() if key[4] == a.name}
            spot[a.name] = a.spot.available(coins) if coins else {}
        return {key: render.hint_text(f, spot.get(key[4], {})) for key, f in figures.items()}

    def _heartbeat(
        self, now: float, snapshots: Sequence[Snapshot], firing: int
    ) -> list[tuple[str, Message]]:
        """A periodic "still watching" message (``heartbeat:``), only after a good poll."""
        every = self.cfg.heartbeat
        if not every or not snapshots:
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
            body=f"still watching {plural(sum(len(s.positions) for s in snapshots), 'position')}"
            f"{_of_accounts(snapshots, len(self.accounts))}; {plural(firing, 'alert')} firing",
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


def _of_accounts(snapshots: Sequence[Snapshot], watched: int) -> str:
    if watched == 1:
        return ""
    return f" in {len(snapshots)} of {plural(watched, 'account')}"


def _float(text: str | None) -> float | None:
    """A stored figure; unreadable or not finite (a corrupt meta row) counts as none."""
    try:
        value = float(text) if text else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None
