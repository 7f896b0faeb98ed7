"""Due-date arithmetic for check-up plans, in the customer's time zone.

A plan step says "day 14 after delivery"; the customer lives in Madrid; the
check-up is due on that calendar day at the start of the customer's working
morning, moved to Monday when the plan skips weekends. Everything here is pure
(no database) so the calendar rules are tested with frozen time alone.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Sequence

# Check-ups fall due at 10:00 in the customer's time zone: late enough that
# the rep has started the day, early enough to call the same morning.
DUE_TIME = dt.time(10, 0)
DEFAULT_RENEWAL_OFFSETS = (60, 14)


def skip_weekend(day: dt.date) -> dt.date:
    """Saturday and Sunday move forward to Monday."""
    weekday = day.weekday()
    return day + dt.timedelta(days=7 - weekday) if weekday >= 5 else day


def due_at(day: dt.date, tz_name: str) -> dt.datetime:
    """The aware moment a check-up on ``day`` falls due for a customer in ``tz_name``.

    zoneinfo resolves the wall-clock time to the right UTC offset on either
    side of a daylight-saving change (10:00 always exists: changes happen at night).
    """
    return dt.datetime.combine(day, DUE_TIME, tzinfo=zoneinfo.ZoneInfo(tz_name))


def step_day(start: dt.date, offset_days: int, *, skip_weekends: bool) -> dt.date:
    day = start + dt.timedelta(days=offset_days)
    return skip_weekend(day) if skip_weekends else day


def renewal_days(renewal: dt.date, offsets: Sequence[int], *, skip_weekends: bool) -> list[tuple[int, dt.date]]:
    """(offset, day) pairs before a renewal; a weekend moves back to Friday so it stays ahead of the date."""
    result = []
    for offset in sorted(set(offsets), reverse=True):
        day = renewal - dt.timedelta(days=offset)
        if skip_weekends and day.weekday() >= 5:
            day -= dt.timedelta(days=day.weekday() - 4)
        result.append((offset, day))
    return result


def next_business_day(moment: dt.datetime, tz_name: str) -> dt.datetime:
    """Due within one business day: the next working day at the due time, customer's zone."""
    local = moment.astimezone(zoneinfo.ZoneInfo(tz_name)).date()
    return due_at(skip_weekend(local + dt.timedelta(days=1)), tz_name)
