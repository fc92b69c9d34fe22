"""Quiet hours (DESIGN 12): is this moment inside one of the windows, in the config's zone?

Pure: the time is passed in. A window ``{from: "23:00", to: "07:00", days: [fri]}`` starts on
the days it names and runs into the next morning when ``to`` is not after ``from``, so "Friday
night" is one window and Saturday 06:59 is inside it. Local time is read through ``zoneinfo``,
so daylight-saving days are as long or short as the wall clock says.
"""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Sequence
from datetime import datetime

from riskwatch.model import QuietWindow


@functools.lru_cache(maxsize=16)
def _zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def local_minute(now: float, timezone: str) -> tuple[int, int]:
    """(weekday 0=Monday, minute of the day) of ``now`` in ``timezone``."""
    local = datetime.fromtimestamp(now, _zone(timezone))
    return local.weekday(), local.hour * 60 + local.minute


def in_window(w: QuietWindow, weekday: int, minute: int) -> bool:
    if w.start < w.end:
        return weekday in w.days and w.start <= minute < w.end
    yesterday = (weekday - 1) % 7
    return (weekday in w.days and minute >= w.start) or (yesterday in w.days and minute < w.end)


def is_quiet(windows: Sequence[QuietWindow], timezone: str, now: float) -> bool:
    """Whether ``now`` falls in any of ``windows`` (none: never quiet)."""
    if not windows:
        return False
    weekday, minute = local_minute(now, timezone)
    return any(in_window(w, weekday, minute) for w in windows)
