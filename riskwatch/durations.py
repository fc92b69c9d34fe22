"""Durations as people write them in the rules file: ``30s``, ``5m``, ``1h30m``, ``2d``, ``0``.

One pattern, shared by the validator and the JSON Schema so an editor and ``riskwatch check``
agree on what is valid. Units appear largest first, each at most once; only seconds may carry a
fraction (``1.5s``); a bare ``0`` means zero, any other bare number is refused because ``30``
could mean seconds or minutes.
"""

from __future__ import annotations

import re

PATTERN = r"^(?:0|(?=\d)(?:\d+d)?(?:\d+h)?(?:\d+m(?!s))?(?:\d+(?:\.\d+)?s)?)$"
_RE = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+(?:\.\d+)?)s)?$")
_UNITS = (86400.0, 3600.0, 60.0, 1.0)
MAX_SECONDS = 366 * 86400.0  # a year: anything longer is a typo


_ZERO_UNITS = r"(?:0+d)?(?:0+h)?(?:0+m)?"
# Seconds parts shorter than each minimum a key has (keys.Key.minimum).
_SECONDS_BELOW = {
    0.1: r"0+(?:\.0\d*)?s",
    1.0: r"0+(?:\.\d+)?s",
    60.0: r"0*[1-5]?\d(?:\.\d+)?s",
}


def pattern_at_least(minimum: float) -> str:
    """``PATTERN`` refusing durations shorter than ``minimum`` seconds, for the JSON Schema
    (a regular expression cannot compare numbers, so each minimum has its own)."""
    if minimum <= 0:
        return PATTERN
    below = _SECONDS_BELOW[minimum]
    return rf"^(?!(?:0|{_ZERO_UNITS}(?:{below})?)$)" + PATTERN[1:]


def parse(value: object) -> float:
    """Seconds in ``value``; raise ``ValueError`` with a reason a person can act on."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration (e.g. 30s, 5m, 1h30m)")
    if isinstance(value, int | float):
        if value == 0:
            return 0.0
        raise ValueError(f"{value!r} needs a unit: {value}s, {value}m or {value}h?")
    if not isinstance(value, str):
        raise ValueError(f"expected a duration like 30s, 5m, 1h30m, got {_kind(value)}")
    text = value
    if text == "0":
        return 0.0
    m = _RE.match(text)
    if not text or not m or not any(m.groups()):
        raise ValueError(f"{value!r} is not a duration (e.g. 30s, 5m, 1h30m)")
    seconds = sum(float(g) * u for g, u in zip(m.groups(), _UNITS, strict=True) if g)
    if seconds > MAX_SECONDS:
        raise ValueError(f"{value!r} is longer than a year")
    return seconds


def to_text(seconds: float) -> str:
    """The shortest way to write ``seconds`` in the same syntax (``5400`` -> ``1h30m``)."""
    if seconds <= 0:
        return "0s"
    whole = int(seconds)
    frac = seconds - whole
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        n, whole = divmod(whole, size)
        if n:
            parts.append(f"{n}{unit}")
    if whole or frac:
        parts.append(f"{whole + frac:g}s")
    return "".join(parts)


def _kind(value: object) -> str:
    return {list: "a list", dict: "a mapping", type(None): "nothing"}.get(
        type(value), type(value).__name__
    )


SEND_TIMEOUT_OPTION = "send_timeout"


def split_send_timeout(url: str) -> tuple[str, float | None]:
    """A channel URL without riskwatch's own ``send_timeout=DURATION`` query option, and that
    option's seconds (None when absent). Kept here, beside the duration syntax it uses, so the
    config validates it and delivery applies it alike; ``ValueError`` for a bad value."""
    base, sep, query = url.partition("?")
    if not sep or SEND_TIMEOUT_OPTION not in query:
        return url, None
    kept: list[str] = []
    seconds: float | None = None
    for pair in query.split("&"):
        name, _, value = pair.partition("=")
        if name != SEND_TIMEOUT_OPTION:
            kept.append(pair)
            continue
        seconds = parse(value)
        if seconds < 1:
            raise ValueError(f"send_timeout={value} is shorter than 1s")
    return (f"{base}?{'&'.join(kept)}" if kept else base), seconds
