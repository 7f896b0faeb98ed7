"""A rep's My day and the manager's headline dashboard.

Both pages run a fixed number of queries whatever the data size: every list is
sliced, related rows come with ``select_related``/``prefetch_related`` and the
counts are aggregated in SQL.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Exists, OuterRef, Prefetch, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from aftersales.models import UserProfile
from aftersales.roles import is_manager
from customers.models import Customer, FlagReason, RiskFlag
from feedback.models import SurveyResponse

from .models import TouchPoint

# Each My day list shows at most this many rows; one more is fetched to know
# whether to say "there are more".
MY_DAY_LIMIT = 50
UPCOMING_DAYS = 7
NPS_WINDOW_DAYS = 90


def _user_timezone(user) -> zoneinfo.ZoneInfo:
    """Today is the rep's day: in the time zone of their profile when they have one."""
    name = UserProfile.objects.filter(user=user).values_list("timezone", flat=True).first()
    try:
        return zoneinfo.ZoneInfo(name) if name else timezone.get_current_timezone()
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return timezone.get_current_timezone()


def _bounded(queryset) -> tuple[list, bool]:
    rows = list(queryset[: MY_DAY_LIMIT + 1])
    return rows[:MY_DAY_LIMIT], len(rows) > MY_DAY_LIMIT


@login_required
def my_day(request: HttpRequest) -> HttpResponse:
    """Check-ups due today, overdue and coming up, and the rep's customers at risk."""
    user = request.user
    tz = _user_timezone(user)
    now = timezone.now()
    today = now.astimezone(tz).date()
    start_of_today = datetime.combine(today, datetime.min.time(), tzinfo=tz)
    start_of_tomorrow = start_of_today + timedelta(days=1)

    scheduled = TouchPoint.objects.assigned_to(user).scheduled().select_related("customer").order_by("due_at", "pk")
    overdue, overdue_more = _bounded(scheduled.filter(due_at__lt=start_of_today))
    for touchpoint in overdue:
        touchpoint.days_overdue = (today - touchpoint.due_at.astimezone(tz).date()).days
    due_today, due_today_more = _bounded(scheduled.filter(due_at__gte=start_of_today, due_at__lt=start_of_tomorrow))
    upcoming, upcoming_more = _bounded(
        scheduled.filter(due_at__gte=start_of_tomorrow, due_at__lt=start_of_tomorrow + timedelta(days=UPCOMING_DAYS))
    )

    # Snoozed flags stay off My day until the snooze ends.
    visible_flags = RiskFlag.objects.visible(now)
    at_risk, at_risk_more = _bounded(
        Customer.objects.filter(owner=user)
        .filter(Exists(visible_flags.filter(customer=OuterRef("pk"))))
        .prefetch_related(Prefetch("flags", queryset=visible_flags.order_by("-raised_at"), to_attr="open_flags"))
        .order_by("name", "pk")
    )
    return render(
        request,
        "touchpoints/my_day.html",
        {
            "today": today,
            "user_tz": tz,
            "overdue": overdue,
            "overdue_more": overdue_more,
            "due_today": due_today,
            "due_today_more": due_today_more,
            "upcoming": upcoming,
            "upcoming_more": upcoming_more,
            "upcoming_days": UPCOMING_DAYS,
            "at_risk": at_risk,
            "at_risk_more": at_risk_more,
            "limit": MY_DAY_LIMIT,
        },
    )


@dataclass(frozen=True)
class NpsSummary:
    responses: int
    promoters: int
    passives: int
    detractors: int

    @property
    def score(self) -> int | None:
        """NPS = % promoters (9–10) − % detractors (0–6); passives count in the denominator."""
        if not self.responses:
            return None
        return round(100 * (self.promoters - self.detractors) / self.responses)


def nps_since(moment: datetime) -> NpsSummary:
    """One SQL query with conditional aggregation; no rows are loaded into Python."""
    counts = SurveyResponse.objects.filter(submitted_at__gte=moment, nps__isnull=False).aggregate(
        responses=Count("pk"),
        promoters=Count("pk", filter=Q(nps__gte=9)),
        detractors=Count("pk", filter=Q(nps__lte=6)),
    )
    return NpsSummary(
        responses=counts["responses"],
        promoters=counts["promoters"],
        passives=counts["responses"] - counts["promoters"] - counts["detractors"],
        detractors=counts["detractors"],
    )


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """Headline numbers for managers; the full at-risk dashboard is its own issue."""
    if not is_manager(request.user):
        raise PermissionDenied("The dashboard is for managers.")
    now = timezone.now()
    open_flags = dict(
        RiskFlag.objects.open().order_by().values("reason").annotate(n=Count("pk")).values_list("reason", "n")
    )
    flags_by_reason = [(label, open_flags.get(value, 0)) for value, label in FlagReason.choices]
    return render(
        request,
        "touchpoints/dashboard.html",
        {
            "customer_count": Customer.objects.count(),
            "at_risk_count": Customer.objects.filter(Exists(RiskFlag.objects.open().filter(customer=OuterRef("pk"))))
            .order_by()
            .count(),
            "flags_by_reason": flags_by_reason,
            "open_flag_count": sum(open_flags.values()),
            "overdue_count": TouchPoint.objects.overdue(now).count(),
            "nps": nps_since(now - timedelta(days=NPS_WINDOW_DAYS)),
            "nps_window_days": NPS_WINDOW_DAYS,
        },
    )
