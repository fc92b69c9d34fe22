"""The I/O edge of events (DESIGN section 10): notice a vanish or shrink, read the fills, persist.

``core.events`` decides; this module holds what carries over between cycles and restarts:

- the pending changes ("vanished, reason not yet known"), persisted in the state dir's meta in
  the same transaction as the cycle's alert state and outbox, so a restart between the vanish
  and the fills read neither loses the event nor tells it twice (the event's message and the
  removal of its pending change are committed together);
- the positions last seen (symbol, side, size, liquidation price), so a position liquidated
  while riskwatch was down is still noticed after the restart.

Fills are read only while something is pending: a quiet cycle makes no request.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from operator import attrgetter
from typing import Any

from riskwatch.core import engine
from riskwatch.core import events as core
from riskwatch.core import pending as pending_plain
from riskwatch.core.roll import Roll, roll
from riskwatch.errors import ExchangeError
from riskwatch.model import (
    DEFAULT_ACCOUNT,
    DEMO_ALIASES,
    AlertKey,
    AlertState,
    Config,
    ExchangeSettings,
    Fill,
    Position,
    Snapshot,
    Transition,
)
from riskwatch.store.db import Store

log = logging.getLogger("riskwatch.events")

FetchFills = Callable[[str, str, float], Iterable[Fill]]  # ExchangeClient.fetch_fills
META_PENDING = "pending_events"
META_SEEN = "positions_seen"
SEEN_REFRESH = 600.0
MAX_TOLD = 10_000  # positions whose last told fill is remembered (in memory)


def meta_key(name: str, account: str) -> str:
    """The meta row of ``name`` for ``account``: the default account keeps the rows of
    before accounts (DESIGN 14), so an existing state dir reads on; others get a suffix."""
    return name if account == DEFAULT_ACCOUNT else f"{name}:{account}"


class EventTracker:
    """Pending changes and the last seen positions of one account, between cycles and across
    restarts."""

    def __init__(
        self,
        store: Store | None = None,
        account: str = DEFAULT_ACCOUNT,
        *,
        watching: ExchangeSettings | None = None,
    ) -> None:
        self.account = account
        self.pending: list[core.Change] = []
        self._told: dict[core.Subject, float] = {}  # the last fill each position's event used
        self.seen: Snapshot | None = None
        self._pending_written = ""
        self._seen_written: tuple[Any, float] = (None, 0.0)  # (what, when)
        self._keys = (meta_key(META_PENDING, account), meta_key(META_SEEN, account))
        self._rolled: tuple[Sequence[Position], Roll] = ((), roll(()))  # (of what, roll)
        if store is not None:
            self._pending_written = store.get_meta(self._keys[0]) or ""
            self.pending = pending_plain.from_plain(_json(self._pending_written))
            self.seen = _watched(
                _seen_from_plain(_json(store.get_meta(self._keys[1])), account), watching
            )
            if self.seen is not None:
                self._seen_written = (self._signature(self.seen), self.seen.taken_at)

    # ------------------------------------------------------------------ one cycle

    def observe(self, snapshot: Snapshot, cfg: Config) -> None:
        """Raise a pending change for every position that vanished or shrank since it was
        last seen (after a restart: in the positions stored before it)."""
        matches = functools.partial(engine.matches, account=self.account)
        route = core.channels_for(cfg.rules, cfg.defaults, matches)
        seen = self.seen
        # The same positions in the same order, none smaller: nothing went. This is detect's
        # own first check, made on the roll kept from the last cycle (one roll a cycle).
        quiet = seen is not None and self._roll(seen.positions) == self._roll(snapshot.positions)
        found = [] if quiet else core.detect(seen, snapshot, route)
        new = [replace(c, account=self.account) for c in found]
        for c in new:
            what = "vanished" if c.vanished else f"shrank {c.size_before} -> {c.size_after}"
            log.debug("%s %s %s %s; reading its fills", c.product_type, c.symbol, c.side, what)
        self.pending = core.fold(self.pending, new)
        self.seen = core.carry(self.seen, snapshot)

    def held(self) -> frozenset[tuple[str, str, str, str]]:
        """Vanished positions (product_type, symbol, side, account) whose alerts wait for the
        reason."""
        return frozenset((*c.subject, c.account) for c in self.pending if c.vanished)

    def read(self, client: object, now: float) -> list[core.Event]:
        """Read the fills of every pending symbol (one request per symbol, through the
        client's rate limiter) and decide what can be decided; the rest waits a cycle."""
        if not self.pending:
            return []
        fetch = getattr(client, "fetch_fills", None)
        fills: dict[tuple[str, str], Sequence[Fill] | None] = {}
        for c in self.pending:
            group = (c.product_type, c.symbol)
            since = min(x.since for x in self.pending if (x.product_type, x.symbol) == group)
            if group not in fills:
                fills[group] = _read(fetch, c.product_type, c.symbol, since)
        decided: list[core.Event] = []
        waiting: list[core.Change] = []
        for c in self.pending:
            read = self._untold(c, fills[(c.product_type, c.symbol)])
            event = core.decide(c, read, now)
            if event is None:
                waiting.append(core.retry(c))
            else:
                decided.append(event)
                self._remember(c, read or ())
        self.pending = waiting
        return decided

    def _untold(self, c: core.Change, fills: Sequence[Fill] | None) -> Sequence[Fill] | None:
        """The fills that explained none of this position's events yet: a reduction told a
        moment ago lies within the slack before the sighting that told it, and must not make
        the trader's close of the rest, the next cycle, a second liquidation."""
        until = self._told.get(c.subject)
        if fills is None or until is None:
            return fills
        return [f for f in fills if f.at > until]

    def _remember(self, c: core.Change, fills: Sequence[Fill]) -> None:
        used = [f.at for _, f in core.relevant(c, fills)]
        if used:
            self._told[c.subject] = max(used)
            while len(self._told) > MAX_TOLD:  # the oldest first (dicts keep insertion order)
                del self._told[next(iter(self._told))]

    def conclude(
        self,
        decided: Sequence[core.Event],
        snapshot: Snapshot | None,
        state: Mapping[AlertKey, AlertState],
        cfg: Config,
        routes: Mapping[str, Sequence[str]],
        now: float,
    ) -> tuple[list[Transition], dict[AlertKey, AlertState]]:
        """The event lines, and the end of each vanished position's alerts (marked with what
        happened). A position listed again meanwhile keeps its alerts."""
        out: list[Transition] = []
        nxt = dict(state)
        if not decided:  # the usual cycle: no set of every position listed to build
            return out, nxt
        listed = (
            {(p.product_type, p.symbol, p.side) for p in snapshot.positions} if snapshot else set()
        )
        for event in decided:
            _log(event)
            c = event.change
            if not any(ch in routes for ch in c.channels):  # renamed or removed in a reload
                event = _rerouted(event, core.default_channels(cfg.defaults))
            t = core.event_transition(event)
            if t is not None:
                out.append(t)
            if c.vanished and c.subject not in listed:
                ended, nxt = core.end_alerts(nxt, event, cfg.rules, cfg.defaults, now)
                out += ended
        return out, nxt

    def meta(self, snapshot: Snapshot | None) -> dict[str, str]:
        """What to write with this cycle's commit: the pending changes when they changed, the
        positions seen when a size or liquidation price changed (or every ``SEEN_REFRESH``
        seconds, so a restart reads the fills of a short window), never every cycle."""
        out = {}
        pending = json.dumps(pending_plain.to_plain(self.pending), sort_keys=True)
        if pending != self._pending_written:
            out[self._keys[0]] = self._pending_written = pending
        seen = self.seen
        if snapshot is not None and seen is not None:
            sig = self._signature(seen)
            what, when = self._seen_written
            if sig != what or snapshot.taken_at - when >= SEEN_REFRESH:
                out[self._keys[1]] = json.dumps(_seen_to_plain(seen), sort_keys=True)
                self._seen_written = (sig, snapshot.taken_at)
        return out

    def _signature(self, seen: Snapshot) -> Any:
        """What a rewrite of the positions seen depends on: who, how big, the liquidation
        prices (columns compared in C, no sorting; another order merely rewrites it once)."""
        return self._roll(seen.positions), [*map(_LIQ, seen.positions)], seen.fetched

    def _roll(self, positions: Sequence[Position]) -> Roll:
        """``roll(positions)``, made once per tuple of positions: observe compares the last
        cycle's with this one's, and meta reads this one's again (~2 ms each at 10,000)."""
        if self._rolled[0] is not positions:
            self._rolled = (positions, roll(positions))
        return self._rolled[1]


# --------------------------------------------------------------------------- helpers


def _read(fetch: FetchFills | None, pt: str, symbol: str, since: float) -> Sequence[Fill] | None:
    if fetch is None:
        log.warning("%s %s: this exchange client cannot read fills", pt, symbol)
        return None
    try:
        return list(fetch(pt, symbol, since))
    except ExchangeError as exc:
        log.warning("%s %s: fills unavailable: %s", pt, symbol, exc)
        return None


def _watched(seen: Snapshot | None, settings: ExchangeSettings | None) -> Snapshot | None:
    """The positions seen before a restart that this run still watches. A product type or
    margin coin dropped from ``exchange`` hides its positions: they did not go, and must not
    be told "CLOSED? (reason unknown)" nor be carried (stretching every fills window) forever."""
    if seen is None or settings is None:
        return seen
    types = {DEMO_ALIASES.get(pt, pt) if settings.demo else pt for pt in settings.product_types}
    coin = settings.margin_coin
    kept = tuple(
        p for p in seen.positions if p.product_type in types and (not coin or p.margin_coin == coin)
    )
    if len(kept) == len(seen.positions):
        return seen
    log.info(
        "%d positions seen before the restart are no longer watched (exchange settings "
        "changed): they are not told as closed",
        len(seen.positions) - len(kept),
    )
    return replace(seen, positions=kept)


def _rerouted(event: core.Event, channels: tuple[str, ...]) -> core.Event:
    return replace(event, change=replace(event.change, channels=channels))


def _log(event: core.Event) -> None:
    c = event.change
    why = f" ({event.why})" if event.why else ""
    log.debug(  # the journal logs the event's line at INFO
        "%s %s %s: %s%s, %s of %s at %s, realized %s",
        c.product_type,
        c.symbol,
        c.side,
        event.kind,
        why,
        event.size,
        c.size_before,
        event.price,
        event.realized,
    )


def _json(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        log.warning("unreadable event state in the state dir; starting without it")
        return None


_LIQ = attrgetter("liquidation_price")


def _seen_to_plain(snapshot: Snapshot) -> dict[str, Any]:
    """The few fields a later vanish needs."""
    return {
        "taken_at": snapshot.taken_at,
        "positions": sorted(
            [p.product_type, p.symbol, p.side, p.margin_coin, str(p.total),
             None if p.liquidation_price is None else str(p.liquidation_price), str(p.mark_price)]
            for p in snapshot.positions
        ),
        "fetched": sorted(snapshot.fetched),
    }  # fmt: skip


def _seen_from_plain(plain: Any, account: str = DEFAULT_ACCOUNT) -> Snapshot | None:
    if not isinstance(plain, dict):
        return None
    positions = []
    try:
        for pt, symbol, side, coin, total, liq, mark in plain.get("positions", ()):
            positions.append(
                Position(
                    product_type=pt,
                    symbol=symbol,
                    side=side,
                    margin_coin=coin,
                    total=Decimal(total),
                    mark_price=Decimal(mark),
                    liquidation_price=None if liq is None else Decimal(liq),
                    leverage=Decimal(0),
                )
            )
        return Snapshot(
            taken_at=float(plain["taken_at"]),
            positions=tuple(positions),
            fetched=frozenset(plain.get("fetched", ())),
            account=account,
        )
    except (KeyError, TypeError, ValueError, InvalidOperation):
        return None
