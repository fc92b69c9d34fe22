"""``riskwatch check``: validate the rules file and summarise it, without contacting anything.

Channel URLs are validated by apprise (an unknown scheme is an error) but never printed: they
hold tokens. ``check`` refuses what ``run`` would refuse (the same URL check, the optional
packages the configured features need) and warns of rules that cannot do what was meant
(``config.lint``). Exit 0 valid, 1 invalid (``cli.report`` prints each problem on its own
line), 1 with ``--strict`` when there is any lint warning.
"""

from __future__ import annotations

import argparse
import importlib.util
from collections.abc import Callable, Mapping

from riskwatch import durations
from riskwatch.config import load as config
from riskwatch.config.lint import lint
from riskwatch.errors import ConfigError, CredentialsError
from riskwatch.model import Config, Rule
from riskwatch.render.words import plural

# Optional packages a configured feature needs: (what, is it configured, module, pip extra).
FEATURES: tuple[tuple[str, Callable[[Config], object], str, str], ...] = (
    ("metrics.listen", lambda cfg: cfg.metrics_listen, "prometheus_client", "riskwatch[metrics]"),
)


def run(args: argparse.Namespace) -> int:
    """Exit 0 valid (warnings printed), 1 invalid, or 1 with ``--strict`` and any lint warning."""
    cfg = load_checked(args.config)
    for line in summary(cfg):
        print(line)
    warnings = lint(cfg)
    for warning in warnings:
        print(f"warning: {warning}")
    for warning in credential_warnings(cfg=cfg):
        print(f"warning: {warning}")
    if warnings and getattr(args, "strict", False):
        print(f"{cfg.path}: {plural(len(warnings), 'lint warning')}: --strict makes them errors")
        return 1
    return 0


def load_checked(
    path: str, environ: Mapping[str, str] | None = None, *, text: str | None = None
) -> Config:
    """The config as ``run`` will use it: channel URLs validated by apprise, and every
    optional package a configured feature needs importable (else ``ConfigError``)."""
    from riskwatch.delivery.apprise_sender import unusable_reason

    cfg = config.load(path, environ=environ, url_check=unusable_reason, text=text)
    missing = missing_packages(cfg)
    if missing:
        raise ConfigError(missing)
    return cfg


def missing_packages(cfg: Config) -> list[str]:
    return [
        f"{cfg.path}: {key} is set but {module} is not installed: pip install '{extra}'"
        for key, configured, module, extra in FEATURES
        if configured(cfg) and importlib.util.find_spec(module) is None
    ]


def credential_warnings(
    environ: Mapping[str, str] | None = None, cfg: Config | None = None
) -> list[str]:
    """Missing Bitget credentials (each account's, DESIGN 14): a warning here (the file may be
    checked on another machine), an error in ``run`` and ``positions``."""
    from riskwatch.config.accounts import watched
    from riskwatch.exchange import credentials

    named = cfg is not None and bool(cfg.accounts)
    wanted: list[tuple[str, str | None]] = [
        (a.credentials, a.name if named else None)
        for a in (watched(cfg) if cfg is not None else ())
    ] or [(credentials.DEFAULT_PREFIX, None)]
    out = []
    for prefix, name in wanted:
        try:
            credentials.load(environ, prefix, name)
        except CredentialsError as exc:
            out.append(f"{exc}; run and positions will refuse to start without them")
    return out


def summary(cfg: Config) -> list[str]:
    """What the file says, one line per rule and per channel; never a URL."""
    ex = cfg.exchange
    lines = [
        f"{cfg.path}: valid: {plural(len(cfg.rules), 'rule')}, "
        f"{plural(len(cfg.channels), 'channel')}",
        f"exchange: api {ex.api}, {', '.join(ex.product_types)}"
        + (f", margin coin {ex.margin_coin}" if ex.margin_coin else "")
        + (", demo" if ex.demo else "")
        + f", poll every {durations.to_text(ex.poll_interval)}"
        + f", stale after {durations.to_text(ex.stale_after)}"
        + (", feed stream (WebSocket marks between polls)" if ex.feed == "stream" else ""),
        f"state dir: {cfg.state_dir}",
    ]
    lines += [
        f"account {a.name}: credentials {a.credentials}_API_*, api {a.exchange.api}, "
        f"{', '.join(a.exchange.product_types)}" + (", demo" if a.exchange.demo else "")
        for a in cfg.accounts
    ]
    lines += [f"rule {_rule_line(r, cfg.alertmanager is not None)}" for r in cfg.rules]
    for ch in cfg.channels:
        lines.append(f"channel {ch.name}: {plural(len(ch.urls), 'URL')}")
    if (amc := cfg.alertmanager) is not None:
        lines.append(
            f"alertmanager: {plural(len(amc.urls), 'URL')} (each gets every alert),"
            f" resend every {durations.to_text(amc.resend)},"
            f" timeout {durations.to_text(amc.timeout)}"
        )
    from riskwatch.config.answering import summary as answering

    return lines + answering(cfg)


def _rule_line(r: Rule, alertmanager: bool = False) -> str:
    levels = [
        f"{sev} {v:g}"
        for sev, v in (("warning", r.warning), ("critical", r.critical))
        if v is not None
    ]
    timing = f"for {durations.to_text(r.for_)}, repeat " + (
        durations.to_text(r.repeat) if r.repeat else "never"
    )
    to = [_routes(r)] if r.channels or r.critical_channels else []
    to += ["alertmanager"] if alertmanager else []
    labels = ", ".join(f"{k}={v}" for k, v in r.labels)
    return (
        f"{r.name}: {r.scope} {r.metric} {r.op} {', '.join(levels)}; {timing}"
        f" -> {', '.join(to)}" + (f" (labels {labels})" if labels else "")
    )


def _routes(r: Rule) -> str:
    if r.critical_channels is None:
        return ", ".join(r.channels)
    return f"warning: {', '.join(r.channels) or 'none'}; critical: {', '.join(r.critical_channels)}"
