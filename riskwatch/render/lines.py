"""Transitions -> human messages: one line per alert, one message per destination per cycle.

Plain text only (no Markdown or HTML), so ``BTC_USDT`` or ``*`` survive any chat service.
A line reads ``SEVERITY rule subject [marker]: detail``: the prefix is fixed so a person can
scan a storm of them; a rule's ``message`` template replaces only the detail. The title counts
the alerts by their *current* severity (a repeat or an escalation to critical counts as
critical; a resolve counts as resolved), so it says at a glance how bad things are now.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from riskwatch.model import UNIFIED, Message, Transition
from riskwatch.render import template

_MARKERS = {
    "firing": "",
    "escalated": "{prev} -> {sev}",
    "deescalated": "{prev} -> {sev}",
    "repeat": "still firing",
    "worsened": "worsened",
    "resolved": "was {prev}",
}
# Within a severity: news first (escalations, new alerts), then reminders.
_KIND_ORDER = {"escalated": 0, "firing": 1, "worsened": 2, "deescalated": 3, "repeat": 4}


# --------------------------------------------------------------------------- numbers


def num(v: float | int | str | None, digits: int = 10) -> str:
    """A number for people: no float noise (``0.30000000000000004`` -> ``0.3``), no exponent."""
    if v is None:
        return "none"
    if isinstance(v, str):
        return v
    x = float(v)
    if math.isnan(x) or math.isinf(x):
        return str(x)
    s = f"{x:.{digits}g}"
    if "e" in s:
        if abs(x) >= 1:
            return f"{x:.0f}"
        s = f"{x:.{digits + int(-math.floor(math.log10(abs(x))))}f}".rstrip("0").rstrip(".")
    return s


def metric_value(metric: str, v: float | None) -> str:
    """A metric's value: ``liq_gap_pct`` (a percentage) with two decimals, others 6 digits."""
    if v is None or not isinstance(v, (int, float)):
        return num(v)
    if metric == "liq_gap_pct":
        return f"{v:.2f}"
    return num(v, 6)


# --------------------------------------------------------------------------- one line


def _subject(t: Transition, f: Mapping[str, object]) -> str:
    symbol = f.get("symbol") or ""
    side = f.get("side") or ""
    if symbol:
        return f"{symbol} {side}".rstrip()
    coin = f.get("margin_coin") or ""
    if not coin:
        return ""  # built-in alerts have no subject
    pt = f.get("product_type") or ""
    return f"{coin} {'unified' if pt == UNIFIED else pt}".rstrip()


def _prices(f: Mapping[str, object]) -> str:
    if "markPrice" in f:
        return f"mark {num(f.get('markPrice'))}, liq {num(f.get('liquidationPrice'))}"  # type: ignore[arg-type]
    if "accountEquity" in f:
        return f"equity {num(f.get('accountEquity'))}, available {num(f.get('available'))}"  # type: ignore[arg-type]
    return ""


def _default_detail(t: Transition, f: Mapping[str, object]) -> str:
    if "text" in f and not t.metric:
        return str(f["text"])
    value = metric_value(t.metric, t.value)
    if t.kind == "resolved":
        against = f" (fired at {t.op} {num(t.threshold)})" if t.threshold is not None else ""
        head = f"{t.metric} {value}{against}"
    else:
        head = f"{t.metric} {value} {t.op} {num(t.threshold)}"
    prices = _prices(f)
    return f"{head}; {prices}" if prices else head


class _Number(float):
    """A float that prints like ``num`` when the template gives no format spec
    (``{markPrice}`` -> ``93203.4``, not ``93203.40000000001``); ``{x:.2f}`` works as usual."""

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


def line(t: Transition) -> str:
    """One alert as one line: ``SEVERITY rule subject [marker]: detail``."""
    f = t.field_map()
    sev = "RESOLVED" if t.kind == "resolved" else t.severity.upper()
    prefix = " ".join(p for p in (sev, t.rule, _subject(t, f)) if p)
    marker = _MARKERS[t.kind].format(prev=t.previous_severity or t.severity, sev=t.severity)
    if marker:
        prefix += f" [{marker}]"
    if t.message and t.metric:
        detail = template.fill(t.message, template_values(t))
    else:
        detail = _default_detail(t, f)
    if t.kind == "resolved":
        reason = f"resolved ({t.reason})" if t.reason else "resolved"
        if "text" in f and not t.metric:  # a built-in: the reason says it all
            return f"{prefix}: {reason}"
        return f"{prefix}: {reason}: {detail}"
    return f"{prefix}: {detail}"


# --------------------------------------------------------------------------- one message


def _order(t: Transition) -> tuple[int, int, tuple[str, ...]]:
    if t.kind == "resolved":
        return 2, 0, t.key
    return (0 if t.severity == "critical" else 1), _KIND_ORDER.get(t.kind, 9), t.key


def title(transitions: Sequence[Transition]) -> str:
    """``riskwatch: 2 critical, 1 warning, 1 resolved`` (each alert by its current severity)."""
    counts = {"critical": 0, "warning": 0, "resolved": 0}
    for t in transitions:
        counts["resolved" if t.kind == "resolved" else t.severity] += 1
    parts = [f"{n} {what}" for what, n in counts.items() if n]
    return "riskwatch: " + ", ".join(parts)


def message(channel: str, transitions: Sequence[Transition], now: float) -> Message:
    """One message: the title, then one line per alert (critical, warning, resolved)."""
    ordered = sorted(transitions, key=_order)
    return Message(
        channel=channel,
        title=title(ordered),
        body="\n".join(line(t) for t in ordered),
        created_at=now,
        keys=tuple(t.key for t in ordered),
    )


def messages_for(
    transitions: Sequence[Transition],
    destinations: Mapping[str, Sequence[str]],
    now: float,
) -> list[tuple[str, Message]]:
    """One grouped message per destination key, each alert at most once per destination even
    when two of its channels share a URL; ``Message.channel`` is the first channel routing
    there. Channels missing from ``destinations`` are skipped (config rejects them)."""
    first_channel: dict[str, str] = {}
    lines: dict[str, dict[int, Transition]] = {}
    for n, t in enumerate(transitions):
        for channel in t.channels:
            for dest in destinations.get(channel, ()):
                first_channel.setdefault(dest, channel)
                lines.setdefault(dest, {})[n] = t
    return [
        (dest, message(first_channel[dest], list(ts.values()), now)) for dest, ts in lines.items()
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
