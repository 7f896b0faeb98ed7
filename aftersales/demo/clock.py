"""Local calendar arithmetic for the generator, cached: a million touch points share a few thousand days.

Days are ordinals; datetimes are naive UTC, which is what the row writers expect.
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, timedelta

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
# Scheduled check-ups fall due at 10:00 in the customer's time zone, as the
# app schedules them (touchpoints/scheduling.py); reminders go out at 7:00.
DUE_TIME = timedelta(hours=10)
REMINDER_TIME = timedelta(hours=7)


class LocalCalendar:
    def __init__(self) -> None:
        self._midnights: dict[tuple[str, int], datetime] = {}
        self._checkup_times: dict[tuple[str, int], tuple[datetime, str, datetime, str]] = {}

    def midnight(self, tz: str, day: int) -> datetime:
        """Naive UTC of local midnight of ``day`` in ``tz`` (cached: a few thousand distinct pairs)."""
        key = (tz, day)
        value = self._midnights.get(key)
        if value is None:
            local = datetime.fromordinal(day).replace(tzinfo=zoneinfo.ZoneInfo(tz))
            value = self._midnights[key] = local.astimezone(UTC).replace(tzinfo=None)
        return value

    def checkup_times(self, tz: str, day: int) -> tuple[datetime, str, datetime, str]:
        """(due, due as text, reminder, reminder as text) of a check-up on ``day``, customer's zone.

        Formatting a datetime costs about as much as generating the row it is
        in; a million touch points share a few thousand (zone, day) pairs.
        """
        key = (tz, day)
        value = self._checkup_times.get(key)
        if value is None:
            midnight = self.midnight(tz, day)
            due, reminder = midnight + DUE_TIME, midnight + REMINDER_TIME
            value = self._checkup_times[key] = (due, str(due), reminder, str(reminder))
        return value

    @staticmethod
    def workday(day: int) -> int:
        """Move Saturday and Sunday to Monday (plans skip weekends)."""
        weekday = (day - 1) % 7  # ordinal 1 was a Monday
        return day + (7 - weekday if weekday >= 5 else 0)

    @staticmethod
    def workday_before(day: int) -> int:
        """Move Saturday and Sunday back to Friday: a renewal call must stay ahead of the date."""
        weekday = (day - 1) % 7
        return day - (weekday - 4 if weekday >= 5 else 0)
