"""Transitions -> human messages: one line per alert, one message per destination per cycle.

Plain text only (no Markdown or HTML), so ``BTC_USDT`` or ``*`` survive any chat service.
A line reads ``SEVERITY rule subject [marker]: detail [14:03:21 UTC]`` (DESIGN 11): the prefix
is fixed so a person can scan a storm of them; the detail is the metric's own phrase from the
catalogue (``3.7% from liquidation (below 4%)``), then the prices, then what would help; a
rule's ``message`` template replaces the detail, and the time stamp always ends the line, since a
line read an hour late must say when it was true. The title counts the alerts by their
*current* severity (a repeat or an escalation to critical counts as critical; a resolve counts as
resolved), so it says at a glance how bad things are now.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, tzinfo

from riskwatch.core import metrics
from riskwatch.core.hints import Figures
from riskwatch.model import UNIFIED, AlertKey, Message, NotifyType, Transition
from riskwatch.render import events, template
from riskwatch.render.words import decimals, grouped, num, plural, stamp

__all__ = ["line", "lines_of", "message", "messages_for", "notify_type", "num", "split", "title"]

_MARKERS = {
    "firing": "",
    "escalated": "{prev} -> {sev}",
    "deescalated": "{prev} -> {sev}",
    "repeat": "still firing",
    "worsened": "worsened",
    "resolved": "was {prev}",
    "event": "",
    "reminder": "{reason}",  # the answering layer's: silence ended, quiet hours, escalation
}
# Within a severity: news first (escalations, new alerts), then reminders.
_KIND_ORDER = {
    "event": -1,
    "escalated": 0,
    "firing": 1,
    "worsened": 2,
    "deescalated": 3,
    "reminder": 4,
    "repeat": 5,
}
_COMPARED = {"<": "below", "<=": "at or below", ">": "above", ">=": "at or above"}
# The hook for what happened to a position (DESIGN 10): a transition of one of these kinds is an
# event line, always sent to the service as a failure.
EVENT_KINDS: frozenset[str] = frozenset({"event"})


# --------------------------------------------------------------------------- numbers


def metric_value(metric: str, v: float | None, scope: str = "position") -> str:
    """A metric's value as its catalogue unit says: ``3.7%``, ``-65%``, ``0.56``, ``25x``,
    ``93,500``."""
    if v is None or not isinstance(v, (int, float)) or v != v:
        return "none"
    m = metrics.lookup(scope, metric) or metrics.lookup("account", metric)  # type: ignore[arg-type]
    unit = m.unit if m else "amount"
    if unit == "pct":
        return decimals(v, 2) + "%"
    if unit == "fraction":
        return decimals(v * 100, 2 if abs(v) < 0.1 else 1) + "%"
    if unit == "ratio":
        return decimals(v, 4)
    if unit == "times":
        return decimals(v, 2) + "x"
    return grouped(v)


def _phrase(t: Transition, scope: str, v: float | None) -> str:
    m = metrics.lookup(scope, t.metric)  # type: ignore[arg-type]
    said = m.say() if m else f"{t.metric} {{v}}"
    return said.replace("{v}", metric_value(t.metric, v, scope))


# --------------------------------------------------------------------------- hints


def _estimate(x: float) -> str:
    """An estimate's figure: whole above 1,000 (``1,250``), else four significant digits."""
    return grouped(round(x)) if abs(x) >= 1000 else grouped(float(f"{x:.4g}"))


def hint_text(fig: Figures, spot: Mapping[str, float] | None = None) -> str:
    """``add ≈ 1,250 USDT margin to move liq to 84,000; critical at mark 93,458; spot holds
    3,200 USDT to transfer`` (DESIGN 11; the figures are ``core.hints``')."""
    coin = fig.coin
    if fig.cross:
        head = f"add ≈ {_estimate(fig.add)} {coin} equity (cross, estimate) to move liq to"
        head += f" ≈ {_estimate(fig.target_liq)}"
    else:
        head = f"add ≈ {_estimate(fig.add)} {coin} margin to move liq to"
        head += f" {_estimate(fig.target_liq)}"
    parts = [head]
    if fig.next_mark is not None:
        parts.append(f"critical at mark {_estimate(fig.next_mark)}")
    held = (spot or {}).get(coin)
    if held:
        parts.append(f"spot holds {_estimate(held)} {coin} to transfer")
    return "; ".join(parts)


# --------------------------------------------------------------------------- one line


MAX_TEXT = 64  # exchange text (a symbol, a coin) longer than this is cut


def printable(text: str, limit: int | None = None) -> str:
    """``text`` without control characters (a newline in exchange text would forge a line),
    cut to ``limit`` characters."""
    if not text.isprintable():
        text = "".join(c for c in text if c.isprintable())
    return text if limit is None else text[:limit]


def _subject(f: Mapping[str, object]) -> str:
    symbol = printable(str(f.get("symbol") or ""), MAX_TEXT)
    side = f.get("side") or ""
    if symbol:
        return f"{symbol} {side}".rstrip()
    coin = printable(str(f.get("margin_coin") or ""), MAX_TEXT)
    if not coin:
        return ""  # built-in alerts have no subject
    pt = f.get("product_type") or ""
    return f"{coin} {'unified' if pt == UNIFIED else pt}".rstrip()


def _shown(f: Mapping[str, object], name: str) -> str | None:
    v = f.get(name)
    return None if v is None or isinstance(v, str) else grouped(v)  # type: ignore[arg-type]


def _prices(t: Transition, f: Mapping[str, object]) -> str:
    """Mark and liquidation price (or equity and available), each unless it is the metric."""
    if "markPrice" in f:
        pairs = (("mark", "markPrice"), ("liq", "liquidationPrice"))
    else:
        pairs = (("equity", "accountEquity"), ("available", "available"))
    parts = [
        f"{label} {shown}"
        for label, name in pairs
        if name != t.metric and (shown := _shown(f, name)) is not None
    ]
    return ", ".join(parts)


def _scope(f: Mapping[str, object]) -> str:
    return "position" if f.get("symbol") else "account"


def _default_detail(t: Transition, f: Mapping[str, object]) -> str:
    scope = _scope(f)
    head = _phrase(t, scope, t.value)
    if t.threshold is not None and t.op is not None:
        against = f"{_COMPARED[t.op]} {metric_value(t.metric, t.threshold, scope)}"
        head += f" (fired {against})" if t.kind == "resolved" else f" ({against})"
    prices = _prices(t, f)
    return f"{head}; {prices}" if prices else head


class _Number(float):
    """A float that prints like ``num`` when the template gives no format spec
    (``{markPrice}`` -> ``93203.4``, not ``93203.40000000001``); ``{x:.2f}`` or ``{x:,.0f}``
    work as usual."""

    def __format__(self, spec: str) -> str:
        return num(float(self)) if not spec else float.__format__(self, spec)

    def __str__(self) -> str:
        return num(float(self))


def template_values(t: Transition) -> dict[str, object]:
    """The fields a ``message`` template may use (DESIGN section 8, message templates)."""
    values: dict[str, object] = dict(t.fields)
    values.update(
        rule=t.rule, severity=t.severity, metric=t.metric, value=t.value, threshold=t.threshold
    )
    return {
        k: _Number(v) if isinstance(v, float | int) and not isinstance(v, bool) else v
        for k, v in values.items()
    }


def _resolved(reason: str, detail: str, *, templated: bool) -> str:
    """``back to 20% from liquidation (fired below 15%)`` when the value cleared, else the
    reason and the last known values: ``position closed; last 10% from liquidation ...``; an
    alert that a liquidation ended is marked in its prefix (``ENDED ... (liquidated): last
    ...``, DESIGN 10), so its detail gives only the last values ("ended" once, not twice)."""
    if reason in events.ENDED_REASONS:
        return detail if templated else f"last {detail}"
    if templated:
        return f"{reason}: {detail}"
    if reason == "cleared":
        return f"back to {detail}"
    return f"{reason}; last {detail}"


def line(
    t: Transition, tz: tzinfo = UTC, hint: str = "", shift: float = 0.0, *, named: bool = False
) -> str:
    """One alert as one line: ``SEVERITY rule subject [marker]: detail [14:03:21 UTC]``;
    ``hint`` (what would help, from ``core.hints``) goes after the detail. An event (DESIGN 10)
    reads ``LIQUIDATED BTCUSDT long: ...``; an alert that it ended starts ``ENDED``, never
    the good-news ``RESOLVED``. ``shift``: the wall clock's step from the engine's steady
    clock, so the stamp is the time on the trader's phone after the system clock was set.
    ``named`` (more than one account is watched, DESIGN 14) puts the account after the
    subject: ``CRITICAL near-liq BTCUSDT long on hedge: ...``."""
    seen = stamp(t.at + shift, tz)
    if t.kind in EVENT_KINDS:
        return printable(f"{events.line(t, named)} {seen}")
    f = t.field_map()
    ended = t.kind == "resolved" and t.reason in events.ENDED_REASONS
    sev = "ENDED" if ended else "RESOLVED" if t.kind == "resolved" else t.severity.upper()
    whose = f"on {t.key[4]}" if named and t.key[4] else ""
    prefix = " ".join(p for p in (sev, t.rule, _subject(f), whose) if p)
    marker = _MARKERS.get(t.kind, "").format(
        prev=t.previous_severity or t.severity, sev=t.severity, reason=t.reason
    )
    if marker:
        prefix += f" [{marker}]"
    if ended:
        prefix += f" ({t.reason})"
    if t.builtin:
        detail = t.reason if t.kind == "resolved" else str(f.get("text", ""))
    else:
        if t.message and t.metric:
            detail = template.fill(t.message, template_values(t))
        else:
            detail = _default_detail(t, f)
        if t.kind == "resolved":
            detail = _resolved(t.reason or "cleared", detail, templated=bool(t.message))
        if hint:
            detail += f"; {hint}"
    return printable(f"{prefix}: {detail} {seen}")


# --------------------------------------------------------------------------- one message


def _order(t: Transition) -> tuple[int, int, tuple[str, ...]]:
    if t.kind == "resolved":
        return 2, 0 if t.reason in events.ENDED_REASONS else 1, t.key
    return (0 if t.severity == "critical" else 1), _KIND_ORDER.get(t.kind, 9), t.key


def title(transitions: Sequence[Transition]) -> str:
    """``riskwatch: 2 critical, 1 warning, 1 resolved`` (each alert by its current severity)."""
    counts = {"critical": 0, "warning": 0, "ended": 0, "resolved": 0}
    for t in transitions:
        if t.kind == "resolved":
            counts["ended" if t.reason in events.ENDED_REASONS else "resolved"] += 1
        else:
            counts[t.severity] += 1
    parts = [
        plural(n, what) if what == "warning" else f"{n} {what}" for what, n in counts.items() if n
    ]
    return "riskwatch: " + ", ".join(parts)


def notify_type(transitions: Sequence[Transition]) -> NotifyType:
    """What the service is told (DESIGN 11): a critical line or any event makes the message a
    failure, a warning line a warning, a message of only resolves a success."""
    kinds = {t.kind for t in transitions}
    if kinds & EVENT_KINDS or any(
        t.severity == "critical" and t.kind != "resolved" for t in transitions
    ):
        return "failure"
    if kinds == {"resolved"}:
        return "success"
    return "warning" if transitions else "info"


def message(
    channel: str,
    transitions: Sequence[Transition],
    now: float,
    tz: tzinfo = UTC,
    hints: Mapping[AlertKey, str] | None = None,
    said: Mapping[int, str] | None = None,
    *,
    named: bool = False,
) -> Message:
    """One message: the title, then one line per alert (critical, warning, resolved).
    ``said`` may hold lines already rendered, by ``id`` of their transition."""
    ordered = sorted(transitions, key=_order)
    tips = hints or {}
    done = said or {}
    return Message(
        channel=channel,
        title=title(ordered),
        body="\n".join(
            done.get(id(t)) or line(t, tz, tips.get(t.key, ""), named=named) for t in ordered
        ),
        created_at=now,
        keys=tuple(t.key for t in ordered),
        notify_type=notify_type(ordered),
    )


def lines_of(
    transitions: Sequence[Transition],
    tz: tzinfo = UTC,
    hints: Mapping[AlertKey, str] | None = None,
    shift: float = 0.0,
    *,
    named: bool = False,
) -> list[str]:
    """Each transition's line, in order (rendered once for every message and the history)."""
    tips = hints or {}
    return [line(t, tz, tips.get(t.key, ""), shift, named=named) for t in transitions]


def messages_for(
    transitions: Sequence[Transition],
    destinations: Mapping[str, Sequence[str]],
    now: float,
    tz: tzinfo = UTC,
    hints: Mapping[AlertKey, str] | None = None,
    rendered: Sequence[str] | None = None,
    *,
    named: bool = False,
) -> list[tuple[str, Message]]:
    """One grouped message per destination key, each alert at most once per destination even
    when two of its channels share a URL; ``Message.channel`` is the first channel routing
    there. Channels missing from ``destinations`` are skipped (config rejects them).
    ``rendered``: the transitions' lines from ``lines_of``, so none is rendered twice."""
    first_channel: dict[str, str] = {}
    lines: dict[str, dict[int, Transition]] = {}
    for n, t in enumerate(transitions):
        for channel in t.channels:
            for dest in destinations.get(channel, ()):
                first_channel.setdefault(dest, channel)
                lines.setdefault(dest, {})[n] = t
    said = {id(t): text for t, text in zip(transitions, rendered or (), strict=False)}
    return [
        (dest, message(first_channel[dest], list(ts.values()), now, tz, hints, said, named=named))
        for dest, ts in lines.items()
    ]


# --------------------------------------------------------------------------- splitting


def _cut(text: str, limit: int) -> list[str]:
    """Greedy line packing; a line longer than ``limit`` is hard-cut into pieces."""
    parts: list[str] = []
    current = ""
    for raw in text.split("\n"):
        pieces = [raw[i : i + limit] for i in range(0, len(raw), limit)] or [""]
        for piece in pieces:
            if not current:
                current = piece
            elif len(current) + 1 + len(piece) <= limit:
                current += "\n" + piece
            else:
                parts.append(current)
                current = piece
    parts.append(current)
    return parts


def split(text: str, limit: int, *, numbered: bool = True) -> list[str]:
    """Split ``text`` on line boundaries into parts of at most ``limit`` characters.

    With ``numbered`` each part starts with ``(k/n) `` and the room for it is reserved, so the
    numbered part still fits; ``numbered=False`` is for callers that number parts elsewhere
    (e.g. in the title)."""
    if limit <= 0:
        raise ValueError("limit must be positive")
    if len(text) <= limit:
        return [text]
    if not numbered:
        return _cut(text, limit)
    digits = 1
    while True:
        room = limit - len(f"({'9' * digits}/{'9' * digits}) ")
        if room < 1:
            return _cut(text, limit)  # a limit too small to number in: plain parts
        parts = _cut(text, room)
        if len(str(len(parts))) <= digits:
            n = len(parts)
            return [f"({k}/{n}) {p}" for k, p in enumerate(parts, 1)]
        digits += 1
