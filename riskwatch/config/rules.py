"""One rule of the rules file: its own checks, then what it inherits from ``defaults``.

The loader hands each rule (and ``defaults``) to these readers with its ``Reader``. The checks
that need the whole rule (a metric's scope, warning versus critical, a channel at all) are here,
and so is inheritance, driven by the ``INHERITED`` rows of the keys table.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from riskwatch.config import answering
from riskwatch.config import keys as K
from riskwatch.config.reader import Reader, describe, join
from riskwatch.config.source import Src
from riskwatch.core import metrics
from riskwatch.model import OPS, V1_PRODUCT_TYPES, Defaults, Match, Rule
from riskwatch.render import template

_GLOB_CHARS = set("*?[")
_A = {"position": "a position", "account": "an account"}


def read_rule(
    r: Reader,
    src: Src,
    path: str,
    defaults: Defaults,
    channel_names: set[str],
    seen: dict[str, int],
    *,
    channels_required: bool = True,
) -> Rule | None:
    """``channels_required=False`` when alertmanager is set: it gets every alert anyway."""
    m = r.mapping(src, path, K.RULE)
    if m is None:
        return None
    name = _name(r, m, path, seen)
    scope = r.enum(m["scope"], join(path, "scope"), K.SCOPES) if "scope" in m else "position"
    metric = _metric(r, m, path, scope)
    op = _op(r, m["op"], join(path, "op")) if "op" in m else None
    warning = r.number(m["warning"], join(path, "warning")) if "warning" in m else None
    critical = r.number(m["critical"], join(path, "critical")) if "critical" in m else None
    _thresholds(r, src, m, path, op, warning, critical)
    inherited = {k.attr: getattr(defaults, k.attr) for k in K.INHERITED}
    inherited["critical_channels"] = defaults.critical_channels  # channels' other half
    inherited.update(read_inherited(r, m, path, channel_names))
    unsure = src.merged or "defaults" in r.unsure  # a typo there: said once, not per rule
    no_channel = not inherited["channels"] and not inherited["critical_channels"]
    if no_channel and channels_required and not unsure:
        r.error(
            src, path, "no channel: set channels here or in defaults.channels (or alertmanager)"
        )
    match = _match(r, m["match"], join(path, "match"), scope) if "match" in m else Match()
    message = None
    if "message" in m and (message := r.string(m["message"], join(path, "message"))):
        reason = template.check(message)
        if reason:
            r.error(m["message"], join(path, "message"), f"bad template: {reason}")
    labels: tuple[tuple[str, str], ...] | None = ()
    if "labels" in m:
        from riskwatch.config.alertmanager import read_labels

        labels = read_labels(r, m["labels"], join(path, "labels"))
    extras = answering.rule_extras(r, m, path, defaults, channel_names)
    if None in (name, scope, metric, op) or (warning is None and critical is None):
        return None
    return Rule(
        name=name,  # type: ignore[arg-type]
        metric=metric,  # type: ignore[arg-type]
        op=op,  # type: ignore[arg-type]
        warning=warning,
        critical=critical,
        scope=scope,  # type: ignore[arg-type]
        match=match or Match(),
        message=message,
        labels=labels or (),
        **extras,  # type: ignore[arg-type]
        **inherited,
    )


def _op(r: Reader, src: Src, path: str) -> str | None:
    """The op; an unquoted ``>`` or ``|`` starts a YAML block and leaves it empty: say so."""
    v = src.value
    if isinstance(v, str) and (not v.strip() or "\n" in v):
        r.error(
            src,
            path,
            'is empty: a bare > (or |) starts a YAML block; quote the op: op: ">" or op: ">="',
        )
        return None
    return r.enum(src, path, OPS)


def _name(r: Reader, m: dict[str, Src], path: str, seen: dict[str, int]) -> str | None:
    if "name" not in m:
        return None
    src = m["name"]
    name = r.string(src, join(path, "name"))
    if name is None:
        return None
    if not re.match(K.NAME_PATTERN, name):
        r.error(src, join(path, "name"), f"{describe(name)}: use a-z, 0-9, _ and - only")
    elif name.startswith(K.RESERVED_PREFIX):
        r.error(src, join(path, "name"), f"the prefix '{K.RESERVED_PREFIX}' is for built-in alerts")
    elif name in seen:
        r.error(
            src, join(path, "name"), f"duplicate rule name '{name}' (first at line {seen[name]})"
        )
    else:
        seen[name] = src.line
        return name
    return None


def _metric(r: Reader, m: dict[str, Src], path: str, scope: str | None) -> str | None:
    if "metric" not in m or scope is None:
        return None
    src, mpath = m["metric"], join(path, "metric")
    name = r.string(src, mpath)
    if name is None:
        return None
    if metrics.lookup(scope, name):  # type: ignore[arg-type]
        return name
    other = "account" if scope == "position" else "position"
    if metrics.lookup(other, name):  # type: ignore[arg-type]
        hint = "add scope: account" if other == "account" else "remove scope: account"
        r.error(src, mpath, f"'{name}' is {_A[other]} metric, not {_A[scope]} one; {hint}")
        return None
    known = metrics.BY_SCOPE[scope]  # type: ignore[index]
    import difflib

    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    hint = f"did you mean '{close[0]}'? " if close else ""
    r.error(src, mpath, f"unknown {scope} metric {describe(name)}; {hint}known: {', '.join(known)}")
    return None


def _thresholds(
    r: Reader,
    src: Src,
    m: dict[str, Src],
    path: str,
    op: str | None,
    warning: float | None,
    critical: float | None,
) -> None:
    if "warning" not in m and "critical" not in m:
        if not src.merged:  # the merge key's error says it already
            r.error(src, path, "set at least one of warning and critical")
        return
    if op is None or warning is None or critical is None:
        return
    lower_is_worse = op in ("<", "<=")
    ok = critical < warning if lower_is_worse else critical > warning
    if not ok:
        need = "below" if lower_is_worse else "above"
        r.error(
            m["critical"],
            join(path, "critical"),
            f"with op '{op}' critical must be {need} warning ({critical:g} vs {warning:g}): "
            "critical is the more dangerous level",
        )


def _match(r: Reader, src: Src, path: str, scope: str | None) -> Match | None:
    m = r.mapping(src, path, K.MATCH)
    if m is None:
        return None
    kw: dict[str, tuple[str, ...]] = {}
    for key, value in m.items():
        kpath = join(path, key)
        if scope == "account" and key in ("symbol", "side"):
            r.error(src.keys[key], kpath, f"an account rule has no {key}: remove it")
            continue
        globs = []
        for ipath, item in r.items(value, kpath, single_ok=True):
            g = r.string(item, ipath)
            if g is None:
                continue
            g = g.strip().lower()
            if key == "product_type":
                g = V1_PRODUCT_TYPES.get(g, g.upper()).lower()
            if key == "side" and not _GLOB_CHARS & set(g) and g not in K.SIDES:
                r.error(item, ipath, f"{describe(g)} is not a side: long or short")
            globs.append(g)
        kw[key] = tuple(globs)
    return Match(**kw)


# --------------------------------------------------------------------------- inheritance

_Read = Callable[[Reader, Src, str, set[str]], object]
# One reader per kind of inherited key; the minimums come from the keys table.
_READERS: dict[str, _Read] = {
    "names": lambda r, src, path, defined: channel_refs(r, src, path, defined),
    "routing": lambda r, src, path, defined: routing(r, src, path, defined),
    "duration": lambda r, src, path, _: r.duration(src, path),
    "bool": lambda r, src, path, _: r.boolean(src, path),
    "number": lambda r, src, path, _: r.number(src, path),
}


def read_inherited(
    r: Reader, m: dict[str, Src], path: str, channel_names: set[str]
) -> dict[str, object]:
    """The inherited keys set in ``m`` (a rule or ``defaults``), by model attribute."""
    out: dict[str, object] = {}
    for key in K.INHERITED:
        src = m.get(key.name)
        if src is None:
            continue
        kpath = join(path, key.name)
        if key.nullable and src.value is None:
            out[key.attr] = None
            continue
        value = _READERS[key.kind](r, src, kpath, channel_names)
        if value is None:
            continue
        if isinstance(value, float) and not _in_range(r, src, kpath, key, value):
            continue
        if key.kind == "routing":  # one key, two attributes: channels, critical_channels
            out[key.attr], out[f"critical_{key.attr}"] = value  # type: ignore[misc]
            continue
        out[key.attr] = value
    return out


def _in_range(r: Reader, src: Src, path: str, key: K.Key, value: float) -> bool:
    if key.minimum is not None and value < key.minimum:
        r.error(src, path, f"must be {key.minimum:g} or more")
        return False
    if key.above is not None and value <= key.above:
        r.error(src, path, f"must be more than {key.above:g}")
        return False
    return True


def channel_refs(r: Reader, src: Src, path: str, defined: set[str]) -> tuple[str, ...]:
    out: list[str] = []
    for ipath, item in r.items(src, path):
        name = r.string(item, ipath)
        if name is None:
            continue
        if name not in defined and not (not defined and "" in r.unsure):  # channels: typo
            known = ", ".join(sorted(defined)) or "none defined"
            r.error(item, ipath, f"channel '{name}' is not defined in channels ({known})")
        out.append(name)
    return tuple(out)


def routing(
    r: Reader, src: Src, path: str, defined: set[str]
) -> tuple[tuple[str, ...], tuple[str, ...] | None]:
    """``channels``: a list (every severity) or ``{warning: [...], critical: [...]}``
    (DESIGN 11). Returns (warning channels, critical channels or None for the same): a
    mapping without ``critical`` sends criticals to its warning channels, never nowhere."""
    if not src.is_map:
        return channel_refs(r, src, path, defined), None
    m = r.mapping(src, path, K.ROUTING) or {}
    if not src.value:
        r.error(src, path, "name the channels of warning, critical or both")
    warning = (
        channel_refs(r, m["warning"], join(path, "warning"), defined) if "warning" in m else ()
    )
    critical = (
        channel_refs(r, m["critical"], join(path, "critical"), defined) if "critical" in m else None
    )
    return warning, critical
