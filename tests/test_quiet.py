"""Quiet-hour windows: crossing midnight, the day a window starts, 24:00, daylight saving."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from riskwatch.core.quiet import is_quiet
from riskwatch.model import QuietWindow

BERLIN = ZoneInfo("Europe/Berlin")
FRIDAY_NIGHT = (QuietWindow(start=22 * 60, end=6 * 60, days=(4,)),)  # fri 22:00 -> sat 06:00


def at(text: str, tz=BERLIN) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=tz).timestamp()


def test_a_window_runs_into_the_morning_after_the_day_it_starts():
    assert not is_quiet(FRIDAY_NIGHT, "Europe/Berlin", at("2027-01-15 21:59"))  # friday
    assert is_quiet(FRIDAY_NIGHT, "Europe/Berlin", at("2027-01-15 22:00"))
    assert is_quiet(FRIDAY_NIGHT, "Europe/Berlin", at("2027-01-16 05:59"))  # saturday
    assert not is_quiet(FRIDAY_NIGHT, "Europe/Berlin", at("2027-01-16 06:00"))
    assert not is_quiet(FRIDAY_NIGHT, "Europe/Berlin", at("2027-01-16 23:00"))  # saturday night
    assert not is_quiet(FRIDAY_NIGHT, "Europe/Berlin", at("2027-01-15 05:00"))  # thursday's night


def test_whole_days_and_the_zone_of_the_config():
    weekend = (QuietWindow(start=0, end=1440, days=(5, 6)),)
    assert is_quiet(weekend, "Europe/Berlin", at("2027-01-17 23:59"))  # sunday
    assert not is_quiet(weekend, "Europe/Berlin", at("2027-01-18 00:00"))  # monday
    # 23:30 UTC on a Sunday is already Monday 00:30 in Berlin
    assert not is_quiet(weekend, "Europe/Berlin", at("2027-01-17 23:30", ZoneInfo("UTC")))
    assert is_quiet(weekend, "UTC", at("2027-01-17 23:30", ZoneInfo("UTC")))
    assert not is_quiet((), "UTC", 0.0)


def test_local_time_follows_daylight_saving():
    night = (QuietWindow(start=23 * 60, end=7 * 60),)
    utc = ZoneInfo("UTC")
    # 05:30 UTC is 06:30 in Berlin in winter (quiet), 07:30 once clocks went forward (2027-03-28)
    assert is_quiet(night, "Europe/Berlin", at("2027-03-27 05:30", utc))
    assert not is_quiet(night, "Europe/Berlin", at("2027-03-28 05:30", utc))
