"""Reads of a rep's day: which day it is for them, and what is due in it.

Each function runs a fixed number of queries whatever the row counts: lists
are sliced in SQL (one row more than shown, to say "there are more"), related
rows come with ``select_related`` and counts are aggregated in SQL.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar

from django.db.models import Count, Model, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from aftersales.core.access import AuthenticatedRequest
from aftersales.core.models import UserProfile
from aftersales.core.roles import Actor
from customers.models import LOOP_REASONS, RiskFlag
from touchpoints.models import Kind, Status, TouchPoint, completion_window_q, overdue_q

# The rep's time zone is kept in the session: every page shows the navigation
# counts, and knowing which day it is must not cost a query on each of them.
# It is stored at sign-in and refreshed whenever My day is opened (the page
# reps land on), so a changed profile time zone shows there at once.
SESSION_TZ_KEY = "aftersales_tz"


def _profile_timezone(user: Actor) -> str:
    return UserProfile.objects.filter(user=user).values_list("timezone", flat=True).first() or ""


def remember_timezone(sender: object, request: HttpRequest | None, user: Actor, **kwargs: Any) -> None:
    """``user_logged_in`` receiver (connected in apps.py): the session starts with the user's time zone."""
    if request is not None and hasattr(request, "session"):
        request.session[SESSION_TZ_KEY] = _profile_timezone(user)


def user_timezone(request: AuthenticatedRequest, *, fresh: bool = False) -> zoneinfo.ZoneInfo:
    """Today is the rep's day: in the time zone of their profile, else the site's.

    ``fresh`` reads the profile (one query) instead of trusting the session.
    """
    name = None if fresh else request.session.get(SESSION_TZ_KEY)
    if name is None:
        name = _profile_timezone(request.user)
        if request.session.get(SESSION_TZ_KEY) != name:
            request.session[SESSION_TZ_KEY] = name
    try:
        return zoneinfo.ZoneInfo(name) if name else timezone.get_current_timezone()
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return timezone.get_current_timezone()


@dataclass(frozen=True)
class Day:
    """A calendar day on a rep's clock, and its bounds as aware datetimes."""

    date: date
    start: datetime
    end: datetime

    @classmethod
    def of(cls, moment: datetime, tz: zoneinfo.ZoneInfo) -> Day:
        date = moment.astimezone(tz).date()
        start = datetime.combine(date, time.min, tzinfo=tz)
        return cls(date=date, start=start, end=datetime.combine(date + timedelta(days=1), time.min, tzinfo=tz))

    def days_before(self, moment: datetime) -> int:
        """How many calendar days ``moment`` (in this day's zone) lies before this day."""
        return (self.date - moment.astimezone(self.start.tzinfo).date()).days


def with_days_overdue(touchpoints: list[TouchPoint], day: Day) -> list[TouchPoint]:
    """Set ``days_overdue`` (0 for today and later) on each touch point, for the overdue badge."""
    for touchpoint in touchpoints:
        touchpoint.days_overdue = max(day.days_before(touchpoint.due_at), 0)
    return touchpoints


@dataclass(frozen=True)
class DueCounts:
    overdue: int
    today: int

    @property
    def total(self) -> int:
        return self.overdue + self.today


def due_counts(user: Actor, day: Day, now: datetime | None = None) -> DueCounts:
    """The navigation badge and My day's headings: ``user``'s overdue check-ups and those due later today.

    One query, an index range scan on touchpoint_myday_idx (assignee, status,
    due_at). Overdue is ``overdue_q``: the same count as the dashboard's and
    the scorecard's for this rep.
    """
    now = now or timezone.now()
    counts = (
        TouchPoint.objects.assigned_to(user)
        .scheduled()
        .filter(due_at__lt=day.end)
        .aggregate(overdue=Count("pk", filter=overdue_q(now)), today=Count("pk", filter=Q(due_at__gte=now)))
    )
    return DueCounts(overdue=counts["overdue"], today=counts["today"])


# Completion rates (dashboard, scorecard) look back this far.
COMPLETION_WINDOW_DAYS = 90


@dataclass(frozen=True)
class Completion:
    """Check-ups done out of those that fell due in the window (cancelled ones left out)."""

    due: int
    done: int

    @property
    def rate(self) -> int | None:
        return round(100 * self.done / self.due) if self.due else None


def completion_counts(since: datetime, until: datetime) -> dict[str, Count]:
    """The aggregates behind a ``Completion``, for ``.aggregate()`` or a grouped ``.annotate()``."""
    window = completion_window_q(since, until)
    return {"due": Count("pk", filter=window), "done": Count("pk", filter=window & Q(status=Status.DONE))}


_Row = TypeVar("_Row", bound=Model)


def bounded(queryset: QuerySet[_Row], limit: int) -> tuple[list[_Row], bool]:
    """At most ``limit`` rows, and whether there were more."""
    rows = list(queryset[: limit + 1])
    return rows[:limit], len(rows) > limit


def close_loop_flags(touchpoint: TouchPoint) -> QuerySet[RiskFlag]:
    """The open flags a close-the-loop call settles: its customer's detractor, low-CSAT and problem flags.

    The loop job raises them and creates the call in one transaction, flags
    first (feedback/services/loops.py); this app does not read feedback's rows,
    so it finds them by customer, reason and time: open, of a loop reason,
    raised no later than the call was created. A flag raised by a later
    answer belongs to that answer's own call. Empty for any other kind.
    """
    if touchpoint.kind != Kind.CLOSE_LOOP:
        return RiskFlag.objects.none()
    return (
        RiskFlag.objects.open()
        .filter(customer_id=touchpoint.customer_id, reason__in=LOOP_REASONS, raised_at__lte=touchpoint.created_at)
        .order_by("raised_at", "pk")
    )
