"""A rep's My day (the managers' dashboard is aftersales/dashboard/).

The page runs a fixed number of queries whatever the data size: every list is
sliced, related rows come with ``select_related``/``prefetch_related`` and the
counts are aggregated in SQL. Logging from My day is in log_views.py.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.db.models import Exists, OuterRef, Prefetch
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone

from aftersales.core.access import AuthenticatedRequest
from customers.models import Customer, RiskFlag
from feedback.models import SurveyResponse
from touchpoints.models import TouchPoint
from touchpoints.selectors import Day, bounded, user_timezone, with_days_overdue

# Each My day list shows at most this many rows; one more is fetched to know
# whether to say "there are more".
MY_DAY_LIMIT = 50
UPCOMING_DAYS = 7
FRESH_ANSWERS_DAYS = 7
NPS_WINDOW_DAYS = 90


@login_required
def my_day(request: AuthenticatedRequest) -> HttpResponse:
    """Check-ups overdue, due today and coming up, the rep's customers at risk and their fresh survey answers."""
    user = request.user
    tz = user_timezone(request, fresh=True)
    now = timezone.now()
    today = Day.of(now, tz)
    upcoming_end = today.end + timedelta(days=UPCOMING_DAYS)

    # Served by touchpoint_myday_idx (assignee, status, due_at), each a bounded range.
    scheduled = TouchPoint.objects.assigned_to(user).scheduled().select_related("customer").order_by("due_at", "pk")
    overdue, overdue_more = bounded(scheduled.overdue(now), MY_DAY_LIMIT)
    with_days_overdue(overdue, today)
    due_today, due_today_more = bounded(scheduled.due_later_today(now, today.end), MY_DAY_LIMIT)
    upcoming, upcoming_more = bounded(scheduled.filter(due_at__gte=today.end, due_at__lt=upcoming_end), MY_DAY_LIMIT)

    # Snoozed flags stay off My day until the snooze ends.
    visible_flags = RiskFlag.objects.visible(now)
    at_risk, at_risk_more = bounded(
        Customer.objects.filter(owner=user)
        .filter(Exists(visible_flags.filter(customer=OuterRef("pk"))))
        .prefetch_related(Prefetch("flags", queryset=visible_flags.order_by("-raised_at"), to_attr="open_flags"))
        .order_by("name", "pk"),
        MY_DAY_LIMIT,
    )
    answers, answers_more = bounded(
        SurveyResponse.objects.filter(customer__owner=user, submitted_at__gte=now - timedelta(days=FRESH_ANSWERS_DAYS))
        .select_related("customer")
        .order_by("-submitted_at", "-pk"),
        MY_DAY_LIMIT,
    )
    return render(
        request,
        "touchpoints/my_day.html",
        {
            "today": today.date,
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
            "answers": answers,
            "answers_more": answers_more,
            "answers_days": FRESH_ANSWERS_DAYS,
            "limit": MY_DAY_LIMIT,
        },
    )
