"""Bitget's three account APIs behind one ``ExchangeClient``, and ``api: auto`` choosing.

- v2 (classic futures accounts): ``/api/v2/mix/position/all-position`` and ``.../accounts``
  per product type;
- v1 (legacy, decommissioned by Bitget on 2025-11-28; kept as the original spec describes):
  ``/api/mix/v1/position/allPosition-v2`` with v1 product-type names on the wire;
- v3 (unified trading accounts): ``/api/v3/position/current-position?category=..`` per product
  type and ``/api/v3/account/assets`` for the one unified account.

``auto`` asks Bitget which mode the account is in (``accountmode.probe``: ``GET
/api/v3/account/settings``) before the first poll and again whenever a path answers 40085
(unified account) or 40084 (classic account); when the probe tells nothing it starts on the
remembered mode (else v2) and follows those two codes. A switch is logged and reported through
``on_account_mode``. While Bitget says the account is ``upgrading`` or ``switching``, polling
stays on the API that last worked, the snapshot carries the transition, and a refusal of that
API is an ``Unreachable`` saying so (no flipping between APIs on every poll).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import replace

from riskwatch.errors import AuthError, ExchangeError, Unreachable
from riskwatch.exchange import accountmode, codes
from riskwatch.exchange import fills as fill_reads
from riskwatch.exchange.normalise import accounts as normalise_accounts
from riskwatch.exchange.normalise import positions as normalise
from riskwatch.exchange.partial import Partial as _Partial
from riskwatch.exchange.partial import RowLog
from riskwatch.exchange.transport import Transport
from riskwatch.model import (
    UNIFIED,
    V1_PRODUCT_TYPES,
    V3_CATEGORIES,
    AccountMode,
    ExchangeSettings,
    Fill,
    Snapshot,
)

log = logging.getLogger("riskwatch.exchange")
ADL_EVERY = 30.0  # seconds between ADL rank reads (DESIGN section 10)
V1_NAMES = {canonical: v1 for v1, canonical in V1_PRODUCT_TYPES.items()}


class Adapter:
    """One Bitget API version: which paths, which row shape, which account mode."""

    version = "v2"
    mode: AccountMode = "classic"
    time_path = "/api/v2/public/time"
    positions_path = "/api/v2/mix/position/all-position"
    accounts_path = "/api/v2/mix/account/accounts"
    positions_bucket = "all-position"

    def __init__(self, transport: Transport, settings: ExchangeSettings) -> None:
        self.t = transport
        self.s = settings
        self._say = RowLog()

    def wire_product_type(self, pt: str) -> str:
        return pt

    def position_params(self, pt: str) -> dict[str, str]:
        params = {"productType": self.wire_product_type(pt)}
        if self.s.margin_coin:
            params["marginCoin"] = self.s.margin_coin
        return params

    def fetch(self, deadline: float) -> _Partial:
        out = _Partial()
        for pt in self.s.product_types:
            out.attempt(functools.partial(self._positions, pt, deadline, out))
            out.attempt(functools.partial(self._accounts, pt, deadline, out))
        return out

    def parse_positions(self, data: object, pt: str, path: str) -> normalise.Result:
        return normalise.positions(self.version, data, pt, path)

    def _positions(self, pt: str, deadline: float, out: _Partial) -> None:
        path = self.positions_path
        ps, warnings = self.t.get(
            path,
            self.position_params(pt),
            bucket=self.positions_bucket,
            deadline=deadline,
            parse=lambda data: self.parse_positions(data, pt, path),
        )
        if self.t.request_time is not None:
            out.request_times.append(self.t.request_time)
        coin = self.s.margin_coin  # v1/v2 filter by the query too; v3 has no such parameter
        out.positions += [p for p in ps if p.margin_coin == coin] if coin else ps
        out.warnings += warnings
        out.read.add(pt)
        held = self._say((path, pt), warnings)
        # A skipped row is not a closed position: its symbol's alerts keep their state, and
        # when its symbol is unreadable, every alert of the product type does.
        if normalise.ALL not in held:
            out.whole.add(pt)
            out.unreadable.update((pt, symbol) for symbol in held)

    def _accounts(self, pt: str, deadline: float, out: _Partial) -> None:
        path = self.accounts_path
        accs, warnings = self.t.get(
            path,
            {"productType": self.wire_product_type(pt)},
            bucket="accounts",
            deadline=deadline,
            parse=lambda data: normalise_accounts.accounts(self.version, data, pt, path),
        )
        coin = self.s.margin_coin
        out.accounts += [a for a in accs if not coin or a.margin_coin == coin]
        out.warnings += warnings
        if normalise.ALL not in self._say((path, pt), warnings):
            out.accounts_read.add(pt)

    def fills(self, pt: str, symbol: str, since: float, now: float) -> list[Fill]:
        return fill_reads.fills_v2(self.t, pt, symbol, since, now)

    def adl(self, product_types: set[str]) -> fill_reads.AdlRanks:
        ranks: fill_reads.AdlRanks = {}
        for pt in sorted(product_types):
            ranks.update(fill_reads.adl_v2(self.t, pt))
        return ranks


class V2(Adapter):
    pass


class V1(Adapter):
    version = "v1"
    time_path = "/api/spot/v1/public/time"
    positions_path = "/api/mix/v1/position/allPosition-v2"
    accounts_path = "/api/mix/v1/account/accounts"

    def wire_product_type(self, pt: str) -> str:
        return V1_NAMES.get(pt, pt.lower())


class V3(Adapter):
    version = "v3"
    mode: AccountMode = "unified"
    positions_path = "/api/v3/position/current-position"
    accounts_path = "/api/v3/account/assets"
    positions_bucket = "v3-position"

    def position_params(self, pt: str) -> dict[str, str]:
        return {"category": pt}

    def __init__(self, transport: Transport, settings: ExchangeSettings) -> None:
        super().__init__(transport, settings)
        # v3 takes three categories; anything else would be refused (400172): skip it, once.
        self.categories = [pt for pt in settings.product_types if pt in V3_CATEGORIES]
        skipped = [pt for pt in settings.product_types if pt not in V3_CATEGORIES]
        if skipped:
            log.warning(
                "the unified trading account (v3) API has no %s: not read (v3 takes %s)",
                ", ".join(skipped),
                ", ".join(V3_CATEGORIES),
            )

    def fetch(self, deadline: float) -> _Partial:
        out = _Partial()
        for pt in self.categories:
            out.attempt(functools.partial(self._positions, pt, deadline, out))
        out.attempt(functools.partial(self._unified, deadline, out))
        return out

    def parse_positions(self, data: object, pt: str, path: str) -> normalise.Result:
        return normalise.positions("v3", normalise.v3_rows(data, path), pt, path)

    def fills(self, pt: str, symbol: str, since: float, now: float) -> list[Fill]:
        return fill_reads.fills_v3(self.t, pt, symbol, since, now)

    def adl(self, product_types: set[str]) -> fill_reads.AdlRanks:
        return fill_reads.adl_v3(self.t)

    def _unified(self, deadline: float, out: _Partial) -> None:
        path = self.accounts_path
        coin = self.s.margin_coin or "USDT"
        acc, warnings = self.t.get(
            path,
            None,
            bucket="v3-assets",
            deadline=deadline,
            parse=lambda data: normalise_accounts.account_v3(data, coin, path),
        )
        out.accounts.append(acc)
        out.warnings += warnings
        if normalise.ALL not in self._say((path, UNIFIED), warnings):
            out.accounts_read.add(UNIFIED)


ADAPTERS: dict[str, type[Adapter]] = {"v1": V1, "v2": V2, "v3": V3}


class BitgetClient:
    """``ExchangeClient`` over one Transport; ``api: auto`` switches adapters on 40085/40084."""

    def __init__(
        self,
        settings: ExchangeSettings,
        transport: Transport,
        *,
        account_mode: str | None = None,  # remembered: "unified" starts auto on v3
        on_account_mode: Callable[[AccountMode], None] | None = None,
        wall: Callable[[], float] = time.time,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        settings = accountmode.demo_aliases(settings)
        self.settings = settings
        self._t = transport
        self._clock = clock
        self._adl: fill_reads.AdlRanks = {}
        self._adl_at: float | None = None
        self._adl_problem: str | None = None
        self._auto = settings.api == "auto"
        self._on_mode = on_account_mode
        self._wall = wall
        self._reported = False
        self._probed = False
        self.transition: str | None = None  # Bitget's accountMode while in transition
        self._guessed = False  # the transition is inferred: both APIs refused by mode
        start = settings.api if not self._auto else "v3" if account_mode == "unified" else "v2"
        self._use(start)

    @property
    def account_mode(self) -> AccountMode:
        return self._adapter.mode

    @property
    def api(self) -> str:
        return self._adapter.version

    def _use(self, version: str) -> None:
        self._adapter = ADAPTERS[version](self._t, self.settings)
        self._t.time_path = self._adapter.time_path

    def fetch_snapshot(self) -> Snapshot:
        if self._auto and (not self._probed or self.transition is not None):
            self._probed = True
            self._follow(accountmode.probe(self._t, self._t.deadline()))
        try:
            snap = self._fetch()
        except AuthError as exc:
            snap = self._other_api(exc)
        if self._guessed:  # an API answers again: the move between modes is over
            log.info("the account answers the %s API again: the mode settled", self.api)
            self._guessed, self.transition, self._reported = False, None, False
        if self.transition is not None:
            snap = replace(snap, account_transition=self.transition)
        if not self._reported and self._on_mode is not None:
            self._reported = True
            self._on_mode(snap.account_mode)
        return self._with_adl(snap)

    def _other_api(self, exc: AuthError) -> Snapshot:
        """A refusal by account mode (40085/40084) under ``api: auto``: ask the settings, else
        try the other API. When both refuse by mode the account is moving between the two (and
        the key cannot ask: no UTA permissions): an ``InTransition``, not a refusal with the
        wrong advice, and each later poll tries both rather than flip once per poll."""
        target = self._switch_target(exc)
        if target is None:
            raise exc
        decided = self._follow(accountmode.probe(self._t, self._t.deadline()))
        if self.transition is not None and not self._guessed:
            raise self._in_transition(exc) from exc
        if not decided:
            self._switch(target, f"Bitget answered {exc.code}", quiet=self._guessed)
        try:
            return self._fetch()
        except AuthError as again:
            if decided or self._switch_target(again) is None:
                raise
            self._guessed, self.transition = True, self.transition or "switching"
            raise self._in_transition(again) from again

    def fetch_fills(self, product_type: str, symbol: str, since: float) -> list[Fill]:
        """The fills of ``symbol`` since ``since`` (POSIX seconds): read only after a position
        vanished or shrank. Raises ``ExchangeError`` (or ``AuthError``) when they cannot be
        read; the caller then says "reason unknown"."""
        return self._adapter.fills(product_type, symbol, since, self._wall())

    def _with_adl(self, snap: Snapshot) -> Snapshot:
        """Positions with their ADL rank, read at most every ``ADL_EVERY`` seconds and only
        while positions exist; a failed read keeps the last ranks (ADL is advice, not a poll)."""
        if not snap.positions:
            return snap
        now = self._clock()
        if self._adl_at is None or now - self._adl_at >= ADL_EVERY:
            self._adl_at = now
            try:
                self._adl = self._adapter.adl({p.product_type for p in snap.positions})
                self._adl_problem = None
            except ExchangeError as exc:
                problem = exc.explanation if isinstance(exc, AuthError) else str(exc)
                if problem != self._adl_problem:  # once per problem, not every 30 s
                    log.warning("cannot read ADL ranks (adlRank stays undefined): %s", problem)
                self._adl_problem = problem
        if self._adl:  # the positions are this fetch's own, not yet seen by anyone
            normalise.set_adl_ranks(snap.positions, self._adl)
        return snap

    def _follow(self, found: str | None) -> bool:
        """Act on what the probe found; True when it decided the API (a switch or not)."""
        if found in accountmode.TRANSITIONS:
            self._guessed = False
            if self.transition != found:
                log.warning(
                    "Bitget says the account is %s between classic and unified trading account "
                    "mode (accountMode %s): polling goes on with the %s API until it settles",
                    found,
                    found,
                    self.api,
                )
            self.transition = found
            return True
        if found is None:
            return False
        self._guessed = False  # Bitget said it: no guess any more
        if self.transition is not None:
            log.info("the account mode settled: %s (was %s)", found, self.transition)
            self.transition = None
        target = "v3" if found in accountmode.V3_MODES else "v2"
        if target != self.api:
            self._switch(target, f"Bitget's account settings say accountMode {found}")
        return True

    def _in_transition(self, exc: AuthError) -> Unreachable:
        return accountmode.InTransition.of(self.transition or "switching", self.api, exc)

    def _switch_target(self, exc: AuthError) -> str | None:
        if not self._auto:
            return None
        if exc.code == codes.UNIFIED_REFUSED and self._adapter.version != "v3":
            return "v3"
        if exc.code == codes.CLASSIC_REFUSED and self._adapter.version == "v3":
            return "v2"
        return None

    def _switch(self, version: str, why: str, *, quiet: bool = False) -> None:
        """Use the ``version`` API; the mode is remembered once that API answers."""
        mode = ADAPTERS[version].mode
        (log.info if quiet else log.warning)(
            "%s: the account is in %s mode; switching to the %s API",
            why,
            "unified trading account" if mode == "unified" else "classic account",
            version,
        )
        self._use(version)
        self._reported = False

    def _fetch(self) -> Snapshot:
        part = self._adapter.fetch(self._t.deadline())
        if not part.read:
            first = part.errors[0] if part.errors else None
            if isinstance(first, Unreachable) or first is None:
                raise Unreachable(
                    f"no product type could be read: {first or 'no answer'}",
                    endpoint=self._adapter.positions_path,
                    retry_after=first.retry_after if first is not None else None,
                ) from first
            raise first
        return Snapshot(
            taken_at=self._wall(),
            positions=tuple(part.positions),
            accounts=tuple(part.accounts),
            fetched=frozenset(part.whole),
            unreadable=frozenset(part.unreadable),
            accounts_fetched=frozenset(part.accounts_read),
            account_mode=self._adapter.mode,
            warnings=tuple(part.warnings),
            exchange_time=min(part.request_times) if part.request_times else None,
        )

    @property
    def clock_offset(self) -> float:
        """Seconds Bitget's clock is ahead of ours (the WebSocket login signs with its time)."""
        return self._t.offset_ms / 1000.0

    def close(self) -> None:
        self._t.close()
