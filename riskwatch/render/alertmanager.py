"""riskwatch's alerts as Alertmanager's API v2 wants them, posted as Prometheus posts: pure.

Why a ledger of its own (``Book``) and not the cycle's transitions: Alertmanager is told the
*current* set of firing alerts, re-posted every ``resend`` with ``endsAt`` = now + 4 x
``resend``, so that an alert whose source died resolves by itself; and a resolve is an alert
posted with ``endsAt`` = now, three times ``resend`` apart, so that one lost post cannot leave
it firing (whatever ``send_resolved`` says: Alertmanager decides what to notify). The ledger is
derived from the engine's alert state each cycle (the truth), and the transitions only lend it
their lines, so a resolve without a line (``send_resolved: false``) is still posted.

An Alertmanager alert is a label set. ``severity`` is a label, so an escalation resolves the
warning-labelled alert and fires the critical one, as two Prometheus rules would; two riskwatch
instances with the same rules post the same label sets, which is what lets an Alertmanager
cluster deduplicate them. Times stay POSIX seconds in the queued document: ``api_alerts``
writes RFC 3339 at send time and moves a firing ``endsAt`` by the time the post waited in the
outbox (a post delayed by an outage must not arrive already expired).
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from riskwatch.model import AlertKey, AlertState, Config, Message, Transition
from riskwatch.render.lines import line, metric_value
from riskwatch.render.words import num

ROUTE = "@alertmanager"  # the routes entry listing the Alertmanager destinations (no channel)
CHANNEL = "alertmanager"  # the outbox's channel name for Alertmanager posts
RESOLVE_POSTS = 3
EXPIRY = 4  # a firing alert's endsAt is EXPIRY x resend ahead
ACCOUNT = "default"  # the account of a key stored before accounts existed (DESIGN 14)
SOURCE = "riskwatch"

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Entry:
    """One Alertmanager alert riskwatch is telling about: firing (``ends_at`` None), or
    resolved/ending with ``posts_left`` posts still to make."""

    key: AlertKey
    labels: Labels
    summary: str
    value: str
    starts_at: float
    ends_at: float | None
    due: float  # next post of this alert
    posts_left: int = 0


Book = Mapping[Labels, Entry]


# --------------------------------------------------------------------------- labels


@functools.lru_cache(maxsize=1 << 16)
def labels_for(key: AlertKey, severity: str, scope: str, extra: Labels = ()) -> Labels:
    """The label set of an alert: its identity in Alertmanager, sorted (cached: a steady
    cycle asks again for every firing alert)."""
    rule, product_type, subject, side, account = key
    out = dict(extra)
    out.update(alertname=rule, severity=severity, account=account, source=SOURCE)
    if scope == "account" or (not scope and subject and not side):
        out.update(product_type=product_type, margin_coin=subject)
    elif subject:
        out.update(product_type=product_type, symbol=subject, side=side)
    return tuple(sorted((k, v) for k, v in out.items() if v))


def _fallback_summary(s: AlertState) -> str:
    """A line for a firing alert that had no transition to lend one (after a restart, or when
    alertmanager was just configured)."""
    rule, _, subject, side, account = s.key
    whose = f"on {account}" if account and account != ACCOUNT else ""
    head = " ".join(p for p in (s.severity.upper(), rule, subject, side, whose) if p)
    return f"{head}: {s.metric} {metric_value(s.metric, s.value)}" if s.metric else head


def _value(value: float | None) -> str:
    """The ``value`` annotation: the plain number, as Prometheus' ``$value`` (the line has it
    in words)."""
    return "" if value is None else num(value, 6)


# --------------------------------------------------------------------------- one cycle


def plan(
    book: Book,
    state: Mapping[AlertKey, AlertState],
    transitions: Sequence[Transition],
    now: float,
    *,
    resend: float,
    rule_labels: Mapping[str, Labels] | None = None,
    lines: Sequence[str] | None = None,
) -> tuple[dict[Labels, Entry], list[Entry]]:
    """The next ledger and the alerts to post now (empty: nothing is due). A post goes out
    when anything changed (a new firing label set, a resolve) or a ``resend`` came due; it
    carries every firing alert, and the resolves that are due. ``lines`` are the
    transitions' lines as the cycle rendered them (its time zone and hints), else rendered
    here."""
    extra = rule_labels or {}
    texts = list(lines) if lines is not None else [line(t) for t in transitions]
    by_key = {t.key: Said(t, text) for t, text in zip(transitions, texts, strict=True)}
    desired: dict[Labels, AlertState] = {}
    for s in state.values():
        if s.status == "firing":
            desired[labels_for(s.key, s.severity, s.scope, extra.get(s.key[0], ()))] = s
    nxt: dict[Labels, Entry] = {}
    for labels, e in book.items():
        if labels in desired:
            continue
        if e.ends_at is None:  # no longer firing under these labels: resolve it now
            said = by_key.get(e.key)
            told = said is not None and said.t.kind == "resolved"
            nxt[labels] = replace(
                e,
                summary=said.text if said and told else e.summary,
                value=_value(said.t.value) if said and told else e.value,
                ends_at=now,
                due=now,
                posts_left=RESOLVE_POSTS,
            )
        elif e.posts_left > 0:
            nxt[labels] = e
    for labels, s in desired.items():
        nxt[labels] = _firing(book.get(labels), labels, s, by_key.get(s.key), now)
    for t, text in zip(transitions, texts, strict=True):
        if t.kind == "event":
            e = event(t, text, now, resend=resend)
            nxt[e.labels] = e
    return _due(nxt, now, resend)


@dataclass(frozen=True, slots=True)
class Said:
    """A transition of this cycle and its line."""

    t: Transition
    text: str


def _firing(
    old: Entry | None, labels: Labels, s: AlertState, said: Said | None, now: float
) -> Entry:
    if old is not None and old.ends_at is None:  # still firing: keep startsAt and schedule
        if said is None:
            return old
        return replace(old, summary=said.text, value=_value(said.t.value))
    # new under these labels (first firing, a severity change, firing again while resolving)
    fresh = said is not None and said.t.kind in ("firing", "escalated", "deescalated")
    return Entry(
        key=s.key,
        labels=labels,
        summary=said.text if said is not None else _fallback_summary(s),
        value=_value(said.t.value if said is not None else s.value),
        starts_at=now if fresh else s.since,
        ends_at=None,
        due=now,
    )


EVENT_PREFIX = "event:"  # an event transition's key starts with it (core.events)


def event(t: Transition, text: str, now: float, *, resend: float) -> Entry:
    """A one-off happening (a liquidation, DESIGN section 10) as an alert named by what
    happened (``liquidated``...): posted once, firing for one ``resend`` from now (long
    enough for Alertmanager's group_wait to notify it, even when the fill was read late), then
    ending by its ``endsAt``."""
    name, product_type, symbol, side, account = t.key
    key = (name.removeprefix(EVENT_PREFIX), product_type, symbol, side, account)
    return Entry(
        key=t.key,
        labels=labels_for(key, t.severity, "position"),
        summary=text,
        value="",
        starts_at=min(t.at, now),
        ends_at=now + resend,
        due=now,
        posts_left=1,
    )


def _due(nxt: dict[Labels, Entry], now: float, resend: float) -> tuple[dict[Labels, Entry], list]:
    if not any(e.due <= now for e in nxt.values()):
        return nxt, []
    posted: list[Entry] = []
    out: dict[Labels, Entry] = {}
    for labels, e in nxt.items():
        if e.ends_at is None:
            posted.append(replace(e, ends_at=now + EXPIRY * resend))
            out[labels] = replace(e, due=now + resend)
        elif e.due <= now:
            posted.append(e)
            if e.posts_left > 1:
                out[labels] = replace(e, posts_left=e.posts_left - 1, due=now + resend)
        else:
            out[labels] = e
    return out, posted


def outgoing(
    book: Book,
    cfg: Config,
    state: Mapping[AlertKey, AlertState],
    transitions: Sequence[Transition],
    routes: Mapping[str, Sequence[str]],
    now: float,
    lines: Sequence[str] | None = None,
) -> tuple[dict[Labels, Entry], list[tuple[str, Message]]]:
    """One cycle for Alertmanager: the next ledger, and the post (one per URL) if one is due.
    Without ``alertmanager`` configured the ledger empties and nothing is posted."""
    if cfg.alertmanager is None:
        return {}, []
    labels = {r.name: r.labels for r in cfg.rules if r.labels}
    resend = cfg.alertmanager.resend
    nxt, posted = plan(
        book, state, transitions, now, resend=resend, rule_labels=labels, lines=lines
    )
    if not posted:
        return nxt, []
    msg = message(posted, now)
    return nxt, [(dest, msg) for dest in routes.get(ROUTE, ())]


# --------------------------------------------------------------------------- the post


def message(posted: Sequence[Entry], now: float) -> Message:
    """The outbox message of one post: the document ``api_alerts`` turns into the request."""
    resolved = sum(1 for e in posted if e.ends_at is not None and e.ends_at <= now)
    firing = len(posted) - resolved
    doc = {
        "queued_at": now,
        "alerts": [
            {
                "labels": dict(e.labels),
                "annotations": {"summary": e.summary, "value": e.value},
                "startsAt": e.starts_at,
                "endsAt": e.ends_at,
                "once": e.key[0].startswith(EVENT_PREFIX),  # told in this post alone
            }
            for e in posted
        ],
    }
    keys: list[AlertKey] = []
    for e in posted:
        if e.key not in keys:
            keys.append(e.key)
    return Message(
        channel=CHANNEL,
        title=f"alertmanager: {firing} firing, {resolved} resolved",
        body=json.dumps(doc, separators=(",", ":"), sort_keys=True),
        created_at=now,
        keys=tuple(keys),
    )


def rfc3339(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def queued_at(body: str) -> float:
    """When the queued document was made (``ValueError`` when it is not one of ours)."""
    return float(json.loads(body)["queued_at"])


def api_alerts(body: str, now: float, *, once_only: bool = False) -> list[dict[str, object]]:
    """The queued document as the JSON body of ``POST /api/v2/alerts`` (postableAlerts),
    sent at ``now``. ``ValueError`` when the document is not one ``message`` wrote.
    ``once_only``: just the alerts no later post repeats (events), for a post superseded by a
    newer one: its firing set and resolves are stale, but a liquidation is told nowhere else."""
    doc = json.loads(body)
    queued = float(doc["queued_at"])
    waited = max(0.0, now - queued)
    out: list[dict[str, object]] = []
    for a in doc["alerts"]:
        if once_only and a.get("once") is not True:
            continue
        starts, ends = float(a["startsAt"]), float(a["endsAt"])
        if not (math.isfinite(starts) and math.isfinite(ends)):
            raise ValueError("a time is not finite")
        if ends > queued:  # firing (or an event's window): as far ahead as when it was queued
            ends += waited
        starts = min(starts, ends)  # Alertmanager refuses the whole post otherwise (a clock
        # stepped back past a firing alert's start would make every post a 400)
        out.append(
            {
                "labels": {str(k): str(v) for k, v in a["labels"].items()},
                "annotations": {str(k): str(v) for k, v in a["annotations"].items()},
                "startsAt": rfc3339(starts),
                "endsAt": rfc3339(ends),
            }
        )
    return out


def for_console(msg: Message) -> Message:
    """A post as ``--dry-run`` prints it: what would be sent, one alert per line."""
    alerts = api_alerts(msg.body, msg.created_at)
    lines = [json.dumps(a, separators=(",", ":"), sort_keys=True) for a in alerts]
    return replace(msg, title=f"{msg.title} (POST /api/v2/alerts)", body="\n".join(lines))


def probe_alert(now: float, resend: float, host: str) -> Message:
    """``test-notify``'s alert: fires now and ends one ``resend`` later by its ``endsAt``.
    Not resolved at once: Alertmanager notifies nothing of an alert resolved before its
    group_wait passed, and the test must reach the receiver."""
    e = Entry(
        key=("riskwatch-test", "", "", "", ""),
        labels=labels_for(("riskwatch-test", "", "", "", ""), "info", "builtin"),
        summary=f"INFO riskwatch-test: test alert from riskwatch on {host}",
        value="",
        starts_at=now,
        ends_at=now + resend,
        due=now,
    )
    return message([e], now)


# --------------------------------------------------------------------------- persistence


def dumps(book: Book) -> str:
    return json.dumps(
        [
            [
                list(e.key),
                [list(p) for p in e.labels],
                e.summary,
                e.value,
                e.starts_at,
                e.ends_at,
                e.due,
                e.posts_left,
            ]
            for e in book.values()
        ],
        separators=(",", ":"),
    )


def loads(text: str | None) -> dict[Labels, Entry]:
    """The ledger as ``dumps`` wrote it; an unreadable one is empty (the next cycle rebuilds
    the firing alerts from the engine's state; only resolves still to repeat are lost)."""
    if not text:
        return {}
    try:
        out: dict[Labels, Entry] = {}
        for key, labels, summary, value, starts, ends, due, left in json.loads(text):
            lab = tuple((str(k), str(v)) for k, v in labels)
            k = tuple(str(x) for x in key)
            out[lab] = Entry(
                key=(k[0], k[1], k[2], k[3], k[4] if len(k) > 4 else ACCOUNT),
                labels=lab,
                summary=str(summary),
                value=str(value),
                starts_at=float(starts),
                ends_at=None if ends is None else float(ends),
                due=float(due),
                posts_left=int(left),
            )
        return out
    except (ValueError, TypeError, IndexError):
        return {}
