"""The small words of every message: numbers, plurals, times, ages. Pure.

Why one module: a trader reads these on a phone, often late; ``1 channels``, ``93500`` or a
line with no time make a message harder to act on. Every command and every line takes its
numbers, counts and times from here, so they read the same everywhere.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, tzinfo

from riskwatch.model import DEFAULT_ACCOUNT


def num(v: float | int | str | None, digits: int = 10) -> str:
    """A number for people: no float noise (``0.30000000000000004`` -> ``0.3``), no exponent,
    no thousands separator (for templates and tables that are parsed)."""
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


def grouped(v: float | int | str | None, digits: int = 10) -> str:
    """``num`` with thousands separators in the whole part: ``93500`` -> ``93,500``,
    ``-4512.25`` -> ``-4,512.25``; small numbers as ``num`` shows them."""
    text = num(v, digits)
    if v is None or isinstance(v, str) or not text[-1:].isdigit():
        return text
    sign = "-" if text.startswith("-") else ""
    whole, dot, frac = text.lstrip("-").partition(".")
    if len(whole) <= 3:
        return text
    return f"{sign}{int(whole):,}{dot}{frac}"


def decimals(v: float, places: int) -> str:
    """At most ``places`` decimals, trailing zeros dropped, grouped: ``3.70`` -> ``3.7``."""
    if math.isnan(v) or math.isinf(v):
        return str(v)
    text = f"{v:.{places}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    return grouped(float(text)) if abs(v) >= 1000 else text


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 channel``, ``2 channels``, ``0 rules``; ``many`` for irregular plurals."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def span(seconds: float) -> str:
    """``252`` -> ``4m12s``, ``3725`` -> ``1h2m5s``, ``90061`` -> ``1d1h1m``: an age or a
    delay, short and exact enough for a chat line."""
    s = max(0, int(seconds))
    d, rest = divmod(s, 86400)
    h, rest = divmod(rest, 3600)
    m, sec = divmod(rest, 60)
    if d:
        return f"{d}d{h}h{m}m" if m else (f"{d}d{h}h" if h else f"{d}d")
    parts = [f"{h}h" if h else "", f"{m}m" if m else "", f"{sec}s" if sec or not (h or m) else ""]
    return "".join(parts)


def clock(at: float, tz: tzinfo = UTC) -> str:
    """The time of day an alert was seen, with its zone: ``14:03:21 UTC``, ``15:03:21 CET``."""
    moment = datetime.fromtimestamp(at, tz)
    name = moment.tzname() or "UTC"
    return f"{moment:%H:%M:%S} {name}"


def stamp(at: float, tz: tzinfo = UTC) -> str:
    """What ends every alert line: ``[14:03:21 UTC]``."""
    return f"[{clock(at, tz)}]"


def delayed(late_by: float) -> str:
    """The prefix of a message delivered late: ``(delayed 4m12s)``."""
    return f"(delayed {span(late_by)})"


def late_prefix(queued_at: float, now: float, late_after: float) -> str:
    """``(delayed 4m12s) `` when a message queued at ``queued_at`` goes out more than
    ``late_after`` seconds later, else ``""``. Decided at send time, by the delivery."""
    late_by = now - queued_at
    if late_after <= 0 or late_by <= late_after:
        return ""
    return delayed(late_by) + " "


def alert_words(key: tuple[str, ...], *, rule: bool = True) -> str:
    """An alert by its key in a few words, ``near-liquidation BTCUSDT long on hedge`` (button
    labels, acks): the account is named unless it is the one of a file without accounts."""
    account = key[4] if len(key) > 4 and key[4] != DEFAULT_ACCOUNT else ""
    parts = (key[0] if rule else "", *key[2:4], f"on {account}" if account else "")
    return " ".join(p for p in parts if p)
