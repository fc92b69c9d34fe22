"""``riskwatch check``: validate the rules file and summarise it, without contacting anything.

Channel URLs are validated by apprise (an unknown scheme is an error) but never printed: they
hold tokens. Exit 0 valid, 1 invalid (``cli.report`` prints each problem on its own line).
"""

from __future__ import annotations

import argparse

from riskwatch import durations
from riskwatch.config import load as config
from riskwatch.model import Config, Rule
from riskwatch.render.words import plural


def apprise_url_check(url: str) -> str | None:
    """None when apprise can build a notifier for ``url``; builds it, sends nothing."""
    from riskwatch.delivery.apprise_sender import instantiate

    if instantiate(url) is None:
        return "is not usable by apprise (unknown scheme or malformed)"
    return None


def run(args: argparse.Namespace) -> int:
    cfg = config.load(args.config, url_check=apprise_url_check)
    for line in summary(cfg):
        print(line)
    for warning in config.lint(cfg):
        print(f"warning: {warning}")
    return 0


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
