"""``riskwatch positions``: fetch once and show what riskwatch sees, the way a trader reads it.

One table of positions (size, leverage, mark, liquidation price, ``liq_gap_pct`` with two
decimals, the other risk metrics, and which rules match at which severity), riskiest first
(smallest liquidation gap; positions without a liquidation price last), then the accounts.

It sends nothing, so it needs only the exchange credentials: channel URLs may name variables
that are not set here. Exit codes: 0 shown; 1 invalid rules file or missing Bitget
credentials; 3 the exchange refused the credentials (with the sentence that says what to
change); 4 the exchange stayed unreachable (one line naming the cause); 130/143 interrupted.
No traceback either way. With ``api: auto`` the account mode found is remembered in the
state dir, as the daemon does.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import TextIO

from riskwatch import logs
from riskwatch.core import metrics
from riskwatch.errors import AuthError, ExchangeError, StoreError
from riskwatch.model import (
    DEFAULT_ACCOUNT,
    Account,
    AccountSettings,
    Config,
    Position,
    Rule,
    Snapshot,
)
from riskwatch.render.words import plural
from riskwatch.service.events import meta_key

log = logging.getLogger("riskwatch.positions")

POSITION_COLUMNS = (
    "PRODUCT",
    "SYMBOL",
    "SIDE",
    "SIZE",
    "LEV",
    "MARK",
    "LIQ",
    "GAP%",
    "uPLR",
    "KEEP_MR",
    "MARGIN_R",
    "RULES",
)
ACCOUNT_COLUMNS = ("PRODUCT", "COIN", "MODE", "EQUITY", "AVAILABLE", "RISK_RATE", "RULES")


def run(
    args: argparse.Namespace,
    out: TextIO | None = None,
    *,
    clock: Callable[[], float] | None = None,
    sleep: Callable[[float], object] | None = None,
) -> int:
    """Fetch once and print. ``clock``/``sleep`` are for tests (retry budgets without waiting).
    With several accounts (DESIGN 14) each gets its section; one that fails says so in its
    section, the others are shown, and the exit status is the first refusal's (else outage's)."""
    from riskwatch.cli import main as cli
    from riskwatch.config import load as config
    from riskwatch.config.accounts import named, watched

    cfg = config.load(args.config, channel_env=False)  # sends nothing: channel vars may be unset
    if not named(cfg):
        print(render(_fetch(cfg, watched(cfg)[0], clock, sleep), cfg), file=out)
        return 0
    failed: list[ExchangeError] = []
    for account in watched(cfg):
        try:
            snap = _fetch(cfg, account, clock, sleep)
        except ExchangeError as exc:
            print(f"== account {account.name}: not read: {logs.redact(str(exc))}\n", file=out)
            failed.append(exc)
            continue
        print(f"== account {account.name}\n{render(snap, cfg, account)}\n", file=out)
    refused = [e for e in failed if isinstance(e, AuthError)]
    return cli.report((refused or failed)[0]) if failed else 0


def _fetch(
    cfg: Config,
    account: AccountSettings,
    clock: Callable[[], float] | None,
    sleep: Callable[[float], object] | None,
) -> Snapshot:
    from riskwatch import exchange
    from riskwatch.exchange import credentials

    ex = account.exchange
    creds = credentials.load(None, account.credentials, account.name if cfg.accounts else None)
    key = meta_key("account_mode", account.name)
    remembered = _meta(cfg.state_dir, key, None) if ex.api == "auto" else None
    client = exchange.build_client(
        ex,
        creds,
        account_mode=remembered,
        clock=clock,
        sleep=sleep,
        one_shot=True,  # the exit line names the cause: no WARNING before it
    )
    try:
        snap = client.fetch_snapshot()
    finally:
        client.close()
    if ex.api == "auto" and snap.account_mode != remembered:
        _meta(cfg.state_dir, key, snap.account_mode)
    return snap


def _meta(state_dir: str, key: str, mode: str | None) -> str | None:
    """Read (``mode`` None) or write the remembered account mode; a state-dir problem is
    logged, never fatal: listing positions does not need the state dir."""
    from riskwatch.store.db import Store

    try:
        store = Store.open(state_dir, quarantine=False)  # a bad row is the daemon's to move
        try:
            if mode is None:
                return store.get_meta(key)
            store.set_meta(key, mode)
            return mode
        finally:
            store.close()
    except StoreError as exc:
        log.warning("cannot remember the account mode: %s", exc)
        return None


# --------------------------------------------------------------------------- rendering (pure)


def _dec(d: Decimal | None) -> str:
    if d is None:
        return "-"
    return format(d.normalize(), "f") if d == d.to_integral() else format(d, "f")


def _num(v: float | None) -> str:
    if v is None:
        return "-"
    text = f"{v:.4f}"
    return "0.0000" if text == "-0.0000" else text


def rule_matches(
    rules: Sequence[Rule], item: Position | Account, account: str = DEFAULT_ACCOUNT
) -> str:
    """``name:severity`` for each rule that matches ``item`` of ``account`` and fires at its
    value now."""
    matches, severity = _engine()
    scope = "position" if isinstance(item, Position) else "account"
    hits = []
    for rule in rules:
        if rule.scope != scope or not matches(rule, item, account):
            continue
        metric = metrics.lookup(scope, rule.metric)
        value = metric.fn(item) if metric else None
        sev = severity(rule, value)
        if sev is not None:
            hits.append(f"{rule.name}:{sev}")
    return ",".join(hits) or "-"


def _engine() -> tuple[Callable[..., bool], Callable[..., str | None]]:
    from riskwatch.core import engine

    return engine.matches, engine.severity


def position_row(
    p: Position, rules: Sequence[Rule], account: str = DEFAULT_ACCOUNT
) -> tuple[str, ...]:
    gap = metrics.liq_gap_pct(p)
    return (
        p.product_type,
        p.symbol,
        p.side,
        _dec(p.total) + (" USD" if p.size_in_usd else ""),
        _dec(p.leverage),
        _dec(p.mark_price),
        _dec(p.liquidation_price),
        "-" if gap is None else f"{gap:.2f}",
        _num(None if p.unrealized_plr is None else float(p.unrealized_plr)),
        _dec(p.keep_margin_rate),
        _num(None if p.margin_ratio is None else float(p.margin_ratio)),
        rule_matches(rules, p, account),
    )


def account_row(
    a: Account, rules: Sequence[Rule], account: str = DEFAULT_ACCOUNT
) -> tuple[str, ...]:
    return (
        a.product_type,
        a.margin_coin,
        a.asset_mode or "-",
        _dec(a.account_equity),
        _dec(a.available),
        _dec(a.crossed_risk_rate),
        rule_matches(rules, a, account),
    )


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    fmt = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()  # noqa: E731
    return [fmt(header), *(fmt(r) for r in rows)]


def _nearest_first(p: Position) -> tuple[bool, float, str]:
    """Sort key: smallest liq_gap_pct first, positions without one last (gap computed once)."""
    gap = metrics.liq_gap_pct(p)
    return (gap is None, gap or 0.0, p.symbol)


def render(snap: Snapshot, cfg: Config, account: AccountSettings | None = None) -> str:
    """One account's positions and accounts (``account``: which, default the only one)."""
    rules = cfg.rules
    settings = account.exchange if account is not None else cfg.exchange
    name = account.name if account is not None else DEFAULT_ACCOUNT
    order = sorted(snap.positions, key=_nearest_first)
    lines = [
        f"{plural(len(snap.positions), 'position')}, account mode {snap.account_mode}, "
        f"product types read whole: {', '.join(sorted(snap.fetched)) or 'none'}",
        *mode_note(snap),
    ]
    missing = set(settings.product_types) - set(snap.fetched)
    if (missing and snap.account_mode == "classic") or (missing and snap.fetched):
        lines.append(
            f"NOT read whole (a request failed or a row was skipped, see below): "
            f"{', '.join(sorted(missing))}"
        )
    if order:
        lines += table(POSITION_COLUMNS, [position_row(p, rules, name) for p in order])
    else:
        lines.append("no open positions")
    if snap.accounts:
        rows = [account_row(a, rules, name) for a in snap.accounts]
        lines += ["", *table(ACCOUNT_COLUMNS, rows)]
        lines += union_notes(snap.accounts)
    lines += [f"warning: {w}" for w in snap.warnings]
    return "\n".join(lines)


def mode_note(snap: Snapshot) -> list[str]:
    """A line when Bitget says the account is moving between classic and unified mode."""
    if not snap.account_transition:
        return []
    return [
        f"account mode in transition: Bitget says {snap.account_transition} (accountMode); "
        f"riskwatch keeps polling the {snap.account_mode} account's API until it settles"
    ]


def union_notes(accounts: Sequence[Account]) -> list[str]:
    """One line per product type in multi-asset (union) mode, with the account's figures."""
    out = []
    for pt in dict.fromkeys(a.product_type for a in accounts if a.asset_mode == "union"):
        a = next(x for x in accounts if x.product_type == pt and x.asset_mode == "union")
        out.append(
            f"{pt} is in multi-asset (union) mode: the account's total margin "
            f"{_dec(a.union_total_margin)}, available {_dec(a.union_available)}, maintenance "
            f"margin {_dec(a.union_mm)} (unionTotalMargin, unionAvailable, unionMm); the "
            "per-coin equity and available above are not the account's, and can be negative"
        )
    return out
