"""One alert's lifecycle (DESIGN sections 4 and 8): inactive -> pending -> firing -> resolved.

``step`` is the whole state machine for one alert and one fresh value: it returns the
transition worth a line this cycle (if any) and the alert's next state (``None`` = inactive).
It is pure: the time is passed in, and nothing here knows where values come from, so the engine
(positions, accounts) and the built-in alerts share it.

Thresholds are compared with hysteresis by shifting the threshold toward safety once the alert
is firing: ``value < 15`` fires, ``value < 15 + h`` keeps it. Severity is the single place that
knows this, so escalation, de-escalation and resolve all read the same band.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from typing import Any

from riskwatch.model import (
    BUILTIN_SCOPE,
    AlertKey,
    AlertState,
    Defaults,
    Op,
    Rule,
    Severity,
    Snapshot,
    Transition,
    TransitionKind,
    route,
)

Fields = tuple[tuple[str, str | float | None], ...]
# Toward safety: +1 means safe values are larger (ops < and <=), -1 the opposite.
_SAFE_DIRECTION: dict[str, float] = {"<": 1.0, "<=": 1.0, ">": -1.0, ">=": -1.0}
_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_EPSILON = 1e-9  # float noise when comparing a movement with worsen_by


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """What the state machine needs of a rule (or of a built-in alert), resolved once.

    Its fields are a rule's own, by the same names, so ``of`` copies them all: a new inherited
    rule key reaches the lifecycle by adding the field here, with no copying code to edit. The
    defaults are those of a built-in or orphaned alert (no hysteresis, no ``for``, no repeat)."""

    name: str
    metric: str
    op: Op
    channels: tuple[str, ...]
    scope: str
    warning: float | None = None
    critical: float | None = None
    hysteresis: float = 0.0
    for_: float = 0.0
    repeat: float = 0.0
    worsen_by: float | None = None
    send_resolved: bool = True
    message: str | None = None
    critical_channels: tuple[str, ...] | None = None  # None: criticals go to ``channels``

    @classmethod
    def of(cls, rule: Rule, defaults: Defaults) -> Lifecycle:
        """The lifecycle of a rule from the file; a rule without channels uses the defaults'."""
        own = {f.name: getattr(rule, f.name) for f in dataclass_fields(cls)}
        own.update(_routing(rule, defaults))
        return cls(**own)

    def threshold(self, sev: Severity) -> float | None:
        return self.critical if sev == "critical" else self.warning

    def route(self, sev: Severity) -> tuple[str, ...]:
        """Where a new alert at ``sev``, or an escalation to it, is sent (DESIGN 11)."""
        return route(self.channels, self.critical_channels, sev)


def _routing(rule: Rule, defaults: Defaults) -> dict[str, Any]:
    """A rule's own channels (a list, or a mapping by severity), else the defaults'."""
    own = rule if rule.channels or rule.critical_channels is not None else defaults
    return {"channels": own.channels, "critical_channels": own.critical_channels}


def severity_of(
    op: str,
    warning: float | None,
    critical: float | None,
    hysteresis: float,
    value: float | None,
    current: Severity | None,
) -> Severity | None:
    """The severity ``value`` deserves, given the severity the alert is firing at now.

    Escalation is immediate (the critical threshold is never shifted on the way up); staying at
    a level, or falling back to warning, uses the threshold moved by ``hysteresis`` toward safety.
    """
    if value is None or value != value:  # None or NaN: undefined
        return None
    holds = _OPERATORS[op]
    shift = hysteresis * _SAFE_DIRECTION[op]
    if critical is not None:
        t = critical + shift if current == "critical" else critical
        if holds(value, t):
            return "critical"
    if warning is not None:
        t = warning + shift if current is not None else warning
        if holds(value, t):
            return "warning"
    return None


def quiet_check(lc: Lifecycle) -> Callable[[float, AlertState, float], bool]:
    """A fast test, for a *firing* alert and a defined value, that ``step`` would send nothing
    and keep the severity: the hot path of a steady cycle (most firing alerts, most cycles).

    It inlines ``severity_of``, ``worsened`` and the repeat clock with this rule's constants
    bound; when it says False, ``step`` decides (tests check the two agree)."""
    holds = _OPERATORS[lc.op]
    direction = _SAFE_DIRECTION[lc.op]
    shift = lc.hysteresis * direction
    crit, warn = lc.critical, lc.warning
    crit_hold = None if crit is None else crit + shift
    warn_hold = None if warn is None else warn + shift
    wb = lc.worsen_by if lc.worsen_by is not None and lc.worsen_by > 0 else None
    repeat = lc.repeat

    def quiet(value: float, prev: AlertState, now: float) -> bool:
        if prev.severity == "critical":
            if crit_hold is None or not holds(value, crit_hold):
                return False
        elif (
            (crit is not None and holds(value, crit))
            or warn_hold is None
            or not holds(value, warn_hold)
        ):
            return False
        last = prev.last_sent_value
        if wb is not None and last is not None and (last - value) * direction >= wb - _EPSILON:
            return False
        sent = prev.last_sent_at
        return not (repeat > 0 and (sent is None or now - sent >= repeat))

    return quiet


def worsened(op: str, worsen_by: float | None, last: float | None, value: float | None) -> bool:
    """True when ``value`` moved at least ``worsen_by`` toward danger since ``last``."""
    if worsen_by is None or worsen_by <= 0 or last is None or value is None:
        return False
    moved = (last - value) * _SAFE_DIRECTION[op]
    return moved >= worsen_by - _EPSILON


def undefined_reason(metric: str) -> str:
    return "no liquidation price" if metric == "liq_gap_pct" else f"{metric} not reported"


def _transition(
    lc: Lifecycle,
    key: AlertKey,
    kind: TransitionKind,
    sev: Severity,
    previous: Severity | None,
    value: float | None,
    now: float,
    fields: Fields,
    reason: str = "",
    channels: tuple[str, ...] | None = None,
) -> Transition:
    return Transition(
        key=key,
        kind=kind,
        severity=sev,
        previous_severity=previous,
        rule=lc.name,
        metric=lc.metric,
        value=value,
        threshold=lc.threshold(sev),
        op=lc.op,
        at=now,
        channels=lc.route(sev) if channels is None else channels,
        reason=reason,
        message=lc.message,
        fields=fields,
        builtin=lc.scope == BUILTIN_SCOPE,
    )


def _state(
    lc: Lifecycle,
    key: AlertKey,
    status: Any,
    sev: Severity,
    since: float,
    value: float | None,
    sent_at: float | None,
    sent_value: float | None,
    fields: Fields,
    told: tuple[str, ...] | None = None,
) -> AlertState:
    """``told``: the channels told of the alert so far (default: where ``sev`` goes)."""
    channels = lc.route(sev) if told is None else told
    return AlertState(
        key=key,
        status=status,
        severity=sev,
        since=since,
        value=value,
        last_sent_at=sent_at,
        last_sent_value=sent_value,
        channels=channels,
        context=fields,
        metric=lc.metric,
        op=lc.op,
        scope=lc.scope,
    )


def step(
    lc: Lifecycle,
    key: AlertKey,
    value: float | None,
    prev: AlertState | None,
    now: float,
    fields: Callable[[], Fields],
) -> tuple[Transition | None, AlertState | None]:
    """Advance one alert by one fresh observation ``value`` (``None``: metric undefined).

    An alert's state changes only when something happens (it starts pending, fires, sends,
    changes severity): ``value`` and ``context`` are those of that moment, which is what a
    later "position closed" line repeats. A steady firing alert keeps the very same state
    object, so a cycle allocates nothing for it and the store has nothing to rewrite.
    """
    firing = prev is not None and prev.status == "firing"
    current = prev.severity if firing else None  # type: ignore[union-attr]
    sev = severity_of(lc.op, lc.warning, lc.critical, lc.hysteresis, value, current)
    if sev is None:
        if not firing:
            return None, None  # inactive stays inactive; pending resets (for starts over)
        reason = "cleared" if value is not None else undefined_reason(lc.metric)
        return resolve(lc, prev, now, reason, value, fields()), None  # type: ignore[arg-type]
    if not firing:
        since = now if prev is None else prev.since
        if lc.for_ > 0 and now - since < lc.for_:
            if prev is not None and prev.severity == sev:
                return None, prev
            return None, _state(lc, key, "pending", sev, since, value, None, None, fields())
        ctx = fields()
        t = _transition(lc, key, "firing", sev, None, value, now, ctx)
        return t, _state(lc, key, "firing", sev, now, value, now, value, ctx)
    return _while_firing(lc, key, sev, value, prev, now, fields)  # type: ignore[arg-type]


def _while_firing(
    lc: Lifecycle,
    key: AlertKey,
    sev: Severity,
    value: float,
    prev: AlertState,
    now: float,
    fields: Callable[[], Fields],
) -> tuple[Transition | None, AlertState | None]:
    kind: TransitionKind | None = None
    if sev != prev.severity:
        kind = "escalated" if sev == "critical" else "deescalated"
    elif worsened(lc.op, lc.worsen_by, prev.last_sent_value, value):
        kind = "worsened"
    elif lc.repeat > 0 and (prev.last_sent_at is None or now - prev.last_sent_at >= lc.repeat):
        kind = "repeat"
    if kind is None:
        return None, prev  # nothing to say: the very same object (see ``step``)
    ctx = fields()
    told = prev.channels or lc.route(prev.severity)
    if kind == "deescalated":  # news to everyone told, the pager that was woken included
        to = told
    else:  # escalation, worsening, repeat: where this severity goes (never a warning to a
        to = lc.route(sev)  # critical-only pager); whoever hears it is told of its end too
        told = told + tuple(c for c in to if c not in told)
    t = _transition(lc, key, kind, sev, prev.severity, value, now, ctx, channels=to)
    return t, _state(lc, key, "firing", sev, prev.since, value, now, value, ctx, told)


def resolve(
    lc: Lifecycle,
    prev: AlertState,
    now: float,
    reason: str,
    value: float | None = None,
    fields: Fields | None = None,
) -> Transition | None:
    """The resolve line of a firing alert, or ``None`` when ``send_resolved`` is off."""
    if prev.status != "firing" or not lc.send_resolved:
        return None
    ctx = prev.context if fields is None else fields
    shown = prev.value if value is None else value
    told = prev.channels or lc.route(prev.severity)
    return _transition(
        lc, prev.key, "resolved", prev.severity, prev.severity, shown, now, ctx, reason, told
    )


def orphan(prev: AlertState, defaults: Defaults, name: str | None = None) -> Lifecycle:
    """A stand-in lifecycle for an alert whose rule is gone or changed: its old channels.

    It always sends its one resolve line (DESIGN 8: a removed or changed rule ends its firing
    alerts "with one line"): whoever removed the rule still needs to hear the alert is over."""
    return Lifecycle(
        name=name or prev.key[0],
        metric=prev.metric,
        op=prev.op or "<",  # type: ignore[arg-type]
        scope=prev.scope,
        channels=prev.channels or defaults.channels,
    )


def lists(snapshot: Snapshot, product_type: str, symbol: str) -> bool:
    """Whether absence of ``symbol`` from ``snapshot`` means it is gone (DESIGN 8, closed
    versus missing): its product type was read whole and no row of it was skipped as bad."""
    return product_type in snapshot.fetched and (product_type, symbol) not in snapshot.unreadable
