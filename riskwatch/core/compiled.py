"""Rules compiled for the engine: metric function, loosest threshold, glob caches, lifecycle.

Compiling is the engine's per-rules-file work, done once: the caller (the watcher) owns the
``CompiledRules`` and compiles again when the rules change, so nothing here is global.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from riskwatch.core import metrics
from riskwatch.core.lifecycle import Lifecycle, quiet_check, severity_of
from riskwatch.model import DEFAULT_ACCOUNT, Account, AlertState, Defaults, Position, Rule, Severity


def severity(rule: Rule, value: float | None, current: Severity | None = None) -> Severity | None:
    """The severity ``value`` deserves under ``rule`` (hysteresis relative to ``current``)."""
    return severity_of(rule.op, rule.warning, rule.critical, rule.hysteresis, value, current)


# The fields ``match`` globs, in the order of ``match_values`` (the account last: DESIGN 14).
MATCH_FIELDS = ("symbol", "side", "product_type", "margin_coin", "account")
ACCOUNT_FIELD = MATCH_FIELDS.index("account")


def match_values(
    item: Position | Account, account: str = DEFAULT_ACCOUNT
) -> tuple[str, str, str, str, str]:
    if isinstance(item, Position):
        return item.symbol, item.side, item.product_type, item.margin_coin, account
    return "", "", item.product_type, item.margin_coin, account


def matches(rule: Rule, item: Position | Account, account: str = DEFAULT_ACCOUNT) -> bool:
    """Whether ``rule`` applies to ``item`` of ``account``: same scope and every ``match``
    glob list agrees."""
    if (rule.scope == "position") != isinstance(item, Position):
        return False
    for globs, value in zip(_globs(rule), match_values(item, account), strict=True):
        if globs and not _any_glob(globs, value.lower()):
            return False
    return True


def _globs(rule: Rule) -> tuple[tuple[str, ...], ...]:
    m = rule.match
    return m.symbol, m.side, m.product_type, m.margin_coin, m.account


def _any_glob(globs: tuple[str, ...], value: str) -> bool:
    return any(fnmatch.fnmatchcase(value, g) for g in globs)


class GlobCache:
    """One field's globs with the verdict per distinct value remembered across cycles."""

    __slots__ = ("field", "globs", "seen")

    def __init__(self, field: int, globs: tuple[str, ...]) -> None:
        self.field = field
        self.globs = tuple(g.lower() for g in globs)
        self.seen: dict[str, bool] = {}

    def mask(self, values: list[str]) -> map[bool]:
        """Verdicts for a column of values, globbing each distinct value once ever."""
        seen = self.seen
        if len(seen) > 100_000:  # symbols come and go: do not grow forever
            seen.clear()
        for value in set(values).difference(seen):
            seen[value] = _any_glob(self.globs, value.lower())
        return map(seen.__getitem__, values)


@dataclass(slots=True)
class Compiled:
    lc: Lifecycle
    fn: Callable[..., float | None]
    loosest: float  # the threshold easiest to meet: a new alert needs at least this
    filters: tuple[GlobCache, ...]
    quiet: Callable[[float, AlertState, float], bool]


def _compile_rule(rule: Rule, defaults: Defaults) -> Compiled | None:
    metric = metrics.lookup(rule.scope, rule.metric)
    thresholds = [float(t) for t in (rule.warning, rule.critical) if t is not None]
    if metric is None or not thresholds:
        return None  # config rejects both; never crash the loop on them
    loosest = max(thresholds) if rule.op in ("<", "<=") else min(thresholds)
    filters = tuple(GlobCache(i, globs) for i, globs in enumerate(_globs(rule)) if globs)
    lc = Lifecycle.of(rule, defaults)
    return Compiled(lc, metric.fn, loosest, filters, quiet_check(lc))


@dataclass(frozen=True, slots=True)
class CompiledRules:
    """The rules of one configuration, compiled; built by ``compile_rules``."""

    rules: tuple[Rule, ...]
    defaults: Defaults
    compiled: tuple[Compiled, ...]


def compile_rules(rules: Sequence[Rule], defaults: Defaults) -> CompiledRules:
    """Compile ``rules`` once; pass the result to ``engine.evaluate`` every cycle."""
    compiled = tuple(c for c in (_compile_rule(r, defaults) for r in rules) if c is not None)
    return CompiledRules(rules=tuple(rules), defaults=defaults, compiled=compiled)
