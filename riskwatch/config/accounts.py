"""``accounts:`` of the rules file (DESIGN 14): which Bitget accounts one daemon watches.

Each entry names an account and the prefix of its three secrets (``<PREFIX>_API_KEY``,
``_API_SECRET``, ``_API_PASSPHRASE``, read by ``exchange.credentials`` from the environment or
``$CREDENTIALS_DIRECTORY``; never from this file), and may override the ``exchange`` settings
that differ per account: ``api``, ``product_types``, ``margin_coin``, ``demo``. Everything else
of ``exchange`` (hosts, poll interval, timeouts) is shared. Without ``accounts`` the file
watches one account, ``default``, with ``BITGET_API_*``: exactly what it did before.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import replace
from typing import Protocol

from riskwatch.config import keys as K
from riskwatch.config.reader import Reader, join
from riskwatch.config.source import Src
from riskwatch.model import (
    DEMO_ALIASES,
    V3_CATEGORIES,
    AccountSettings,
    Config,
    ExchangeSettings,
)

PREFIX_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"


def watched(cfg: Config) -> tuple[AccountSettings, ...]:
    """The accounts to poll, each with its own exchange settings; never empty: a file without
    ``accounts:`` watches one account, ``default``, with ``exchange`` and ``BITGET_API_*``."""
    return cfg.accounts or (AccountSettings(exchange=cfg.exchange),)


def named(cfg: Config) -> bool:
    """Whether lines name their account: whenever more than one is watched."""
    return len(cfg.accounts) > 1


class _Exchange(Protocol):
    """What of the exchange reader (``config.load``) the account reader reuses."""

    r: Reader

    def interp_enum(self, src: Src, path: str, choices: tuple[str, ...]) -> str | None: ...

    def product_types(self, src: Src, path: str) -> tuple[str, ...] | None: ...


def read_accounts(
    loader: _Exchange, src: Src, base: ExchangeSettings
) -> tuple[AccountSettings, ...]:
    """The accounts of ``src`` (a list), each with ``base`` overridden by its own keys."""
    r = loader.r
    if src.is_list and not src.value:
        r.error(src, "accounts", "must name at least one account (or leave accounts out)")
    out: list[AccountSettings] = []
    names: dict[str, int] = {}
    prefixes: dict[str, str] = {}
    for path, item in r.items(src, "accounts"):
        account = _account(loader, item, path, base)
        if account is None:
            continue
        if account.name in names:
            r.error(item, join(path, "name"), f"duplicate account name {account.name!r}")
            continue
        if (other := prefixes.get(account.credentials.upper())) is not None:
            r.error(
                item,
                join(path, "credentials"),
                f"{account.credentials} is already the credentials of account {other!r}: "
                "each account needs its own key",
            )
            continue
        names[account.name] = len(out)
        prefixes[account.credentials.upper()] = account.name
        out.append(account)
    if base.feed == "stream" and len(out) > 1:
        r.error(
            src,
            "accounts",
            "exchange.feed: stream watches one account; with several accounts use "
            "feed: poll (each account is polled in parallel)",
        )
    return tuple(out)


def lint_accounts(cfg: Config) -> list[str]:
    """A rule matched to an account that is not watched never fires (DESIGN 14)."""
    names = [a.name for a in watched(cfg)]
    out = []
    for i, rule in enumerate(cfg.rules):
        for glob in rule.match.account:
            if not any(fnmatch.fnmatchcase(n, glob) for n in names):
                out.append(
                    f"rules[{i}] ({rule.name}): match.account {glob!r} names no watched "
                    f"account ({', '.join(names)}); this rule will never fire"
                )
    return out


def _account(
    loader: _Exchange, src: Src, path: str, base: ExchangeSettings
) -> AccountSettings | None:
    r = loader.r
    m = r.mapping(src, path, K.ACCOUNT)
    if m is None:
        return None
    name = r.checked(m["name"], join(path, "name"), _name) if "name" in m else None
    prefix = (
        r.checked(m["credentials"], join(path, "credentials"), _prefix)
        if "credentials" in m
        else None
    )
    kw: dict[str, object] = {}
    if "api" in m and (api := loader.interp_enum(m["api"], join(path, "api"), K.API_VERSIONS)):
        kw["api"] = api
    if "product_types" in m and (
        pts := loader.product_types(m["product_types"], join(path, "product_types"))
    ):
        kw["product_types"] = pts
    if "margin_coin" in m:
        kw["margin_coin"] = _coin(r, m["margin_coin"], join(path, "margin_coin"))
    if "demo" in m and (demo := r.boolean(m["demo"], join(path, "demo"))) is not None:
        kw["demo"] = demo
    settings = replace(base, **kw)  # type: ignore[arg-type]
    _v3_categories(r, m.get("product_types", src), path, settings)
    if name is None or prefix is None:
        return None
    return AccountSettings(name=name, credentials=prefix, exchange=settings)


def _name(value: str) -> str | None:
    if not re.match(K.NAME_PATTERN, value):
        return "is not a valid account name: use a-z, 0-9, _ and - (e.g. main, hedge-1)"
    return None


def _prefix(value: str) -> str | None:
    if not re.match(PREFIX_PATTERN, value):
        return (
            "is not a variable prefix: letters, digits and _ (e.g. BITGET_HEDGE reads "
            "BITGET_HEDGE_API_KEY, BITGET_HEDGE_API_SECRET, BITGET_HEDGE_API_PASSPHRASE)"
        )
    if value.upper().endswith("_API"):
        return f"should not end in _API: {value}_API_KEY would be read as {value}_API_API_KEY"
    return None


def _coin(r: Reader, src: Src, path: str) -> str | None:
    if src.value is None:
        return None
    coin = r.checked(src, path, lambda _: None)
    return coin.upper() if coin else None


def _v3_categories(r: Reader, src: Src, path: str, settings: ExchangeSettings) -> None:
    """v3 takes three categories; with demo: true the S* ones are read as those."""
    if settings.api != "v3":
        return
    allowed = set(V3_CATEGORIES) | (set(DEMO_ALIASES) if settings.demo else set())
    bad = [pt for pt in settings.product_types if pt not in allowed]
    if bad:
        r.error(
            src,
            join(path, "product_types"),
            f"{', '.join(bad)}: the v3 API takes only {', '.join(V3_CATEGORIES)} "
            "(demo trading: set demo: true and use the normal product types)",
        )
