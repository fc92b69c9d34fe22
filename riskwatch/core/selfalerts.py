"""riskwatch's own alerts (DESIGN sections 4 and 8): stale data, refused credentials, bad rules.

They are ordinary alerts driven by the ``Health`` input instead of a snapshot, so they share the
lifecycle (fire once, repeat with ``defaults.repeat``, resolve once) through ``lifecycle.step``:
each is a one-threshold rule over a number derived from health (seconds since the last good
poll; 1 while a refusal or a config error stands). Their lines carry a sentence in the field
``text`` that says what is wrong and what to do.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Mapping, Sequence

from riskwatch.core.lifecycle import BUILTIN_SCOPE, Fields, Lifecycle, resolve, step
from riskwatch.durations import to_text
from riskwatch.model import AlertKey, AlertState, Defaults, Health, Severity, Transition

STALE = "riskwatch-stale"
AUTH = "riskwatch-auth"
CONFIG = "riskwatch-config"
STREAM = "riskwatch-stream"
NAMES = frozenset({STALE, AUTH, CONFIG, STREAM})

_RESOLVED = {
    STALE: "polls succeed again",
    AUTH: "the exchange accepts the credentials again",
    CONFIG: "the rules file is valid again",
    STREAM: "the WebSocket stream is back",
}


def _lifecycle(name: str, sev: Severity, threshold: float, defaults: Defaults) -> Lifecycle:
    return Lifecycle(
        name=name,
        metric="",
        op=">=",
        warning=threshold if sev == "warning" else None,
        critical=threshold if sev == "critical" else None,
        scope=BUILTIN_SCOPE,
        repeat=defaults.repeat,
        channels=defaults.channels,
        critical_channels=defaults.critical_channels,  # stale and auth page like criticals
    )


def _observations(
    health: Health, now: float, stale_after: float
) -> list[tuple[str, Severity, float, float | None, str]]:
    """(name, severity, threshold, value, text) per built-in; value None = cannot judge."""
    since = health.last_success if health.last_success is not None else health.started_at
    if since is None:
        stale_value, stale_text = None, ""
    else:
        stale_value = now - since
        what = "no successful poll" if health.last_success is not None else "no poll succeeded"
        stale_text = (
            f"{what} for {to_text(int(stale_value))} (stale_after {to_text(int(stale_after))}): "
            "positions are not being watched; check the network and the exchange status"
        )
    auth = health.auth_error
    cfg = health.config_error
    down = health.stream_down_since
    stream_value = 0.0 if down is None else max(0.0, now - down)
    stream_text = (
        f"the WebSocket stream is down for {to_text(int(stream_value))} ({health.stream_problem}): "
        "alerts come at each poll only, not within a second; check the network"
        if down is not None
        else ""
    )
    return [
        (STALE, "critical", stale_after, stale_value, stale_text),
        (
            AUTH,
            "critical",
            1.0,
            1.0 if auth else 0.0,
            f"the exchange refuses the credentials: {auth}" if auth else "",
        ),
        (
            CONFIG,
            "warning",
            1.0,
            1.0 if cfg else 0.0,
            f"the rules file is invalid, still using the last good rules: {cfg}" if cfg else "",
        ),
        (STREAM, "warning", stale_after, stream_value, stream_text),
    ]


# Of no account: the rules file is the whole daemon's (its key's account is "").
GLOBAL = frozenset({CONFIG})


def evaluate(
    healths: Health | Sequence[Health],
    state: Mapping[AlertKey, AlertState],
    now: float,
    defaults: Defaults,
    stale_after: float,
    out: list[Transition],
    nxt: dict[AlertKey, AlertState],
    accounts: Collection[str] | None = None,
) -> None:
    """Advance the built-in alerts by one cycle, appending to ``out`` and ``nxt``: stale,
    auth and stream once per account (DESIGN 14: a refused account raises its own
    riskwatch-auth), config once (from the first health). With ``accounts``, the built-ins
    of an account no longer watched end."""
    if isinstance(healths, Health):
        healths = (healths,)
    for i, health in enumerate(healths):
        for obs in _observations(health, now, stale_after):
            if obs[0] in GLOBAL and i:
                continue
            _advance(
                obs, "" if obs[0] in GLOBAL else health.account, state, now, defaults, out, nxt
            )
    if accounts is not None:
        _end_removed(state, accounts, now, defaults, out, nxt)


def _end_removed(
    state: Mapping[AlertKey, AlertState],
    accounts: Collection[str],
    now: float,
    defaults: Defaults,
    out: list[Transition],
    nxt: dict[AlertKey, AlertState],
) -> None:
    for key, prev in state.items():
        if key[0] in NAMES and key[0] not in GLOBAL and key[4] not in accounts:
            lc = _lifecycle(key[0], prev.severity, 1.0, defaults)
            t = resolve(lc, prev, now, "account removed")
            if t is not None:
                out.append(dataclasses.replace(t, metric="", op=None, threshold=None))
            nxt.pop(key, None)


def _advance(
    obs: tuple[str, Severity, float, float | None, str],
    account: str,
    state: Mapping[AlertKey, AlertState],
    now: float,
    defaults: Defaults,
    out: list[Transition],
    nxt: dict[AlertKey, AlertState],
) -> None:
    name, sev, threshold, value, text = obs
    key: AlertKey = (name, "", "", "", account)
    prev = state.get(key)
    if value is None:
        return  # nothing to judge by: keep whatever state there is
    lc = _lifecycle(name, sev, threshold, defaults)
    fields: Fields = (("text", text), ("account", account))
    t, new = step(lc, key, value, prev, now, _constant(fields))
    if new is not None and _new_problem(name, t, new, prev, text):
        t = _retell(lc, key, sev, value, now, fields)
        new = dataclasses.replace(new, last_sent_at=now, context=fields)
    if t is not None:
        out.append(_builtin_line(t, prev))
    if new is None:
        nxt.pop(key, None)
    else:
        nxt[key] = new


def _constant(fields: Fields) -> Callable[[], Fields]:
    return lambda: fields


def _new_problem(
    name: str, t: Transition | None, new: AlertState | None, prev: AlertState | None, text: str
) -> bool:
    """A refusal or config error whose explanation changed is news, not a repeat."""
    if t is not None or new is None or prev is None or name in (STALE, STREAM) or not text:
        return False
    return dict(prev.context).get("text") != text


def _retell(
    lc: Lifecycle,
    key: AlertKey,
    sev: Severity,
    value: float,
    now: float,
    fields: tuple[tuple[str, str | float | None], ...],
) -> Transition:
    return Transition(
        key=key,
        kind="firing",
        severity=sev,
        previous_severity=sev,
        rule=lc.name,
        metric="",
        value=value,
        threshold=None,
        op=None,
        at=now,
        channels=lc.channels,
        fields=fields,
        builtin=True,
    )


def _builtin_line(t: Transition, prev: AlertState | None) -> Transition:
    """Built-in lines show their sentence, not a metric against a threshold."""
    if t.kind == "resolved":
        ctx = prev.context if prev is not None else t.fields
        return dataclasses.replace(
            t, reason=_RESOLVED[t.rule], metric="", op=None, threshold=None, fields=ctx
        )
    return dataclasses.replace(t, metric="", op=None, threshold=None)
