"""Lint: rules that are valid but cannot do what their author meant, each with the fix.

``check`` prints these as warnings (exit 0; ``check --strict`` exits 1 on any) and ``run``
logs them at start. They read the metric catalogue's ``danger``, ``safe_end`` and ``ratio``
columns, so a metric added there is linted without touching this module. Pure: a ``Config``
in, sentences out.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from riskwatch import durations
from riskwatch.config import answering
from riskwatch.config.accounts import lint_accounts, watched
from riskwatch.core import metrics
from riskwatch.model import Config, Rule

LOW_OPS = ("<", "<=")  # fire when the value falls below the threshold


def lint(cfg: Config) -> list[str]:
    """Every warning for ``cfg``, in file order (rules first, then the rest)."""
    out: list[str] = []
    for i, rule in enumerate(cfg.rules):
        out += [f"rules[{i}] ({rule.name}): {w}" for w in rule_warnings(rule, cfg)]
    out += lint_accounts(cfg)
    out += _repeat(cfg.defaults.repeat, cfg, "defaults.repeat")
    out += _plain_http(cfg)
    ex = cfg.exchange
    if ex.stale_after <= ex.poll_interval:
        out.append(
            "exchange.stale_after is not longer than poll_interval: expect stale alerts; "
            f"write stale_after: {durations.to_text(ex.poll_interval * 6)} or more"
        )
    if not cfg.rules:
        out.append("no rules: only the built-in alerts (stale, auth, config) will be sent")
    no_channels = not cfg.defaults.channels and not cfg.defaults.critical_channels
    if no_channels and cfg.alertmanager is None:
        out.append("defaults.channels is empty: built-in alerts (riskwatch-stale, ...) go nowhere")
    return out + answering.lint(cfg)


def rule_warnings(rule: Rule, cfg: Config) -> list[str]:
    metric = metrics.lookup(rule.scope, rule.metric)
    if metric is None:
        return []
    blind = [_blind(rule, metric, api) for api in sorted({a.exchange.api for a in watched(cfg)})]
    out = blind[0] if all(blind) else []  # blind only if blind on every account's API
    out += _ratio(rule, metric)
    out += _direction(rule, metric)
    if not out:  # a wrong direction or scale makes the hysteresis advice meaningless
        out += _hysteresis(rule, metric)
    if rule.repeat != cfg.defaults.repeat:
        out += _repeat(rule.repeat, cfg, "repeat")
    return out


def _blind(rule: Rule, metric: metrics.Metric, api: str) -> list[str]:
    missing = set(metric.unavailable_in)
    blind = {"v2", "v3"} <= missing if api == "auto" else api in missing
    if not blind:
        return []
    which = "neither v2 nor v3" if api == "auto" else f"exchange.api {api}"
    return [f"metric {rule.metric} is not reported by {which}; this rule will never fire"]


def _levels(rule: Rule) -> list[tuple[str, float]]:
    return [
        (n, v) for n, v in (("warning", rule.warning), ("critical", rule.critical)) if v is not None
    ]


def _ratio(rule: Rule, metric: metrics.Metric) -> list[str]:
    if not metric.ratio:
        return []
    out = []
    for level, value in _levels(rule):
        if 0.0 <= value <= 1.0:
            continue
        fix = f"write {level}: {value / 100:g}" if 1.0 < value <= 100.0 else "write a value in 0..1"
        out.append(
            f"{rule.metric} is a ratio (1.0 = liquidation): {level} {value:g} is outside 0..1 "
            f"and can never be reached; {fix}"
        )
    return out


def _direction(rule: Rule, metric: metrics.Metric) -> list[str]:
    if metric.danger is None or metric.safe_end is None:
        return []
    fires_low = rule.op in LOW_OPS
    if fires_low == (metric.danger == "low"):
        return []
    safe = "large" if metric.danger == "low" else "small"
    right = "<" if metric.danger == "low" else ">="
    return [
        f"{rule.metric} with op '{rule.op}' fires while the value is {safe}, which is safe; "
        f'write op: "{right}" (and thresholds on the dangerous side)'
    ]


def _hysteresis(rule: Rule, metric: metrics.Metric) -> list[str]:
    end = metric.safe_end
    if end is None or not rule.hysteresis:
        return []
    levels = _levels(rule)
    if not levels:
        return []
    fires_low = rule.op in LOW_OPS
    # The level nearest the safe end clears last: warning when set, else critical.
    level, value = levels[0]
    room = end - value if fires_low else value - end
    if rule.hysteresis <= room:
        return []
    clears = value + rule.hysteresis if fires_low else value - rule.hysteresis
    return [
        f"hysteresis {rule.hysteresis:g} is wider than the distance from {level} {value:g} to "
        f"{end:g}, the safe end of {rule.metric}: the alert clears only at {clears:g} and may "
        f"never resolve; write a hysteresis below {max(room, 0.0):g}"
    ]


def _repeat(repeat: float, cfg: Config, where: str) -> list[str]:
    poll = cfg.exchange.poll_interval
    if not repeat or repeat >= poll:
        return []
    return [
        f"{where} {durations.to_text(repeat)} is shorter than exchange.poll_interval "
        f"{durations.to_text(poll)}: a message goes out every poll; write {where.split('.')[-1]}:"
        f" {durations.to_text(max(poll, 60.0))} or more (0 = never)"
    ]


def _plain_http(cfg: Config) -> list[str]:
    out = []
    for key in ("base_url", "fallback_url"):
        url = getattr(cfg.exchange, key)
        if not url:
            continue
        parts = urlsplit(url)
        if parts.scheme == "http" and not is_loopback(parts.hostname or ""):
            out.append(
                f"exchange.{key} is plain http:// to {parts.hostname}: the signed requests and "
                f"your positions travel unencrypted; write https://{parts.netloc}{parts.path}"
            )
    return out


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
