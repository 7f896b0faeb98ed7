"""The dashboard's numbers, one SQL query per chart whatever the data size.

Months are calendar months in the current time zone (TruncMonth); every
function returns plain JSON-able dicts keyed by ``YYYY-MM`` so the result can
be stored in a rollup row as is.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.db.models import (
    Aggregate,
    Avg,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    Model,
    OuterRef,
    Q,
    QuerySet,
    Window,
)
from django.db.models.functions import RowNumber, TruncMonth
from django.utils import timezone

from customers.models import Customer, FlagReason, RiskFlag
from feedback.models import SurveyInvitation, SurveyResponse
from feedback.scores import DETRACTORS, PROMOTERS
from touchpoints.models import TouchPoint, completion_window_q, overdue_q
from touchpoints.selectors import COMPLETION_WINDOW_DAYS, Completion, completion_counts

MONTHS = 12
NPS_WINDOW_DAYS = 90
CHECKUP_WINDOW_DAYS = COMPLETION_WINDOW_DAYS


def month_starts(now: dt.datetime, count: int = MONTHS) -> list[dt.datetime]:
    """The first instants of the last ``count`` months, oldest first, in the current time zone."""
    local = timezone.localtime(now)
    year, month = local.year, local.month
    starts = []
    for _ in range(count):
        starts.append(local.replace(year=year, month=month, day=1, hour=0, minute=0, second=0, microsecond=0))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return starts[::-1]


def month_key(moment: dt.datetime | dt.date) -> str:
    if isinstance(moment, dt.datetime):
        moment = timezone.localtime(moment) if timezone.is_aware(moment) else moment
    return f"{moment.year:04d}-{moment.month:02d}"


def headline(now: dt.datetime) -> dict[str, Any]:
    """The cards at the top: customers, at risk now, open flags by reason, overdue check-ups, NPS of 90 days."""
    # Customers per reason, as the at-risk list filtered by that reason counts them (visible flags).
    open_flags = dict(
        RiskFlag.objects.visible(now)
        .order_by()
        .values("reason")
        .annotate(n=Count("customer", distinct=True))
        .values_list("reason", "n")
    )
    nps = SurveyResponse.objects.filter(
        submitted_at__gte=now - dt.timedelta(days=NPS_WINDOW_DAYS), nps__isnull=False
    ).aggregate(
        responses=Count("pk"),
        promoters=Count("pk", filter=PROMOTERS),
        detractors=Count("pk", filter=DETRACTORS),
    )
    # At risk as the at-risk list it opens counts it (Customer.objects.at_risk): a snoozed flag waits there.
    at_risk = Customer.objects.at_risk(now).filter(pk=OuterRef("pk"))
    overdue = TouchPoint.objects.overdue(now).filter(customer=OuterRef("pk"))
    live = Customer.objects.not_merged().order_by()  # a merged customer counts once, as the one it merged into
    customers = live.aggregate(
        total=Count("pk"),
        at_risk=Count("pk", filter=Q(Exists(at_risk))),
        overdue=Count("pk", filter=Q(Exists(overdue))),
    )
    return {
        "customer_count": customers["total"],
        "at_risk_count": customers["at_risk"],
        "flags_by_reason": [[value, open_flags.get(value, 0)] for value in FlagReason.values],
        # Customers with an overdue check-up: the rows of the drill-down the card opens.
        "overdue_count": customers["overdue"],
        "nps": nps,
    }


def _by_month(
    queryset: QuerySet[Model], field: str, since: dt.datetime, **aggregates: Aggregate
) -> dict[str, dict[str, Any]]:
    """``aggregates`` over the rows of ``queryset`` whose ``field`` is since ``since``, per month (one query)."""
    rows = (
        queryset.filter(**{f"{field}__gte": since})
        .annotate(month=TruncMonth(field))
        .order_by()
        .values("month")
        .annotate(**aggregates)
    )
    return {month_key(row.pop("month")): row for row in rows}


def answers_by_month(since: dt.datetime) -> dict[str, dict[str, Any]]:
    """NPS split and CSAT average of the answers submitted each month (served by response_submitted_idx)."""
    result = _by_month(
        SurveyResponse.objects.all(),
        "submitted_at",
        since,
        nps_answers=Count("pk", filter=Q(nps__isnull=False)),
        promoters=Count("pk", filter=PROMOTERS),
        detractors=Count("pk", filter=DETRACTORS),
        csat_answers=Count("pk", filter=Q(csat__isnull=False)),
        csat_average=Avg("csat"),
    )
    for row in result.values():
        row["passives"] = row["nps_answers"] - row["promoters"] - row["detractors"]
        row["csat_average"] = round(float(row["csat_average"]), 2) if row["csat_average"] is not None else None
    return result


def invitations_by_month(since: dt.datetime) -> dict[str, dict[str, Any]]:
    """Invitations sent each month and how many of them were answered (invitation_rate_idx)."""
    return _by_month(
        SurveyInvitation.objects.all(),
        "sent_at",
        since,
        sent=Count("pk"),
        answered=Count("pk", filter=Q(responded_at__isnull=False)),
    )


def detractor_loops_by_month(since: dt.datetime) -> dict[str, dict[str, Any]]:
    """Median hours from a detractor's answer opening the loop to the call back, by month of the answer.

    The median is found in SQL on both backends: each closed loop is ranked
    within its month by how long it took and only the one or two middle rows
    per month come back (at most 24 rows). Loops still open are counted by
    detractor_loops_open_by_month.
    """
    took = ExpressionWrapper(F("loop_closed_at") - F("loop_opened_at"), output_field=DurationField())
    middle = (
        SurveyResponse.objects.filter(DETRACTORS, submitted_at__gte=since, loop_closed_at__isnull=False)
        .annotate(month=TruncMonth("submitted_at"), took=took)
        .annotate(
            rank=Window(RowNumber(), partition_by=[F("month")], order_by=[F("took").asc(), F("pk").asc()]),
            closed=Window(Count("pk"), partition_by=[F("month")]),
        )
        .filter(Q(rank=(F("closed") + 1) / 2) | Q(rank=(F("closed") + 2) / 2))
        .order_by()
        .values_list("month", "took", "closed")
    )
    durations: dict[str, list[dt.timedelta]] = defaultdict(list)
    closed: dict[str, int] = {}
    for month, duration, count in middle:
        key = month_key(month)
        durations[key].append(duration)
        closed[key] = count
    return {
        key: {
            "closed": closed[key],
            "median_hours": round(sum(values, dt.timedelta()).total_seconds() / len(values) / 3600, 1),
        }
        for key, values in durations.items()
    }


def detractor_loops_open_by_month(since: dt.datetime) -> dict[str, int]:
    """Detractor loops opened and not closed yet, by month of the answer (one query)."""
    still_open = SurveyResponse.objects.filter(DETRACTORS, loop_opened_at__isnull=False, loop_closed_at__isnull=True)
    return {key: row["n"] for key, row in _by_month(still_open, "submitted_at", since, n=Count("pk")).items()}


def checkups_by_rep(now: dt.datetime, *, days: int = CHECKUP_WINDOW_DAYS) -> list[dict[str, Any]]:
    """Per assignee: check-ups that fell due in the window, how many were done, and how many are overdue now.

    Completion rate = done / (due in the window, cancelled ones left out).
    One query grouped by assignee, names included.
    """
    since = now - dt.timedelta(days=days)
    counts = completion_counts(since, now)  # named here, so that the rows' type has the keys
    rows = (
        TouchPoint.objects.filter(completion_window_q(since, now) | overdue_q(now))
        .order_by()
        .values("assignee", "assignee__first_name", "assignee__last_name", "assignee__username")
        .annotate(due=counts["due"], done=counts["done"], overdue=Count("pk", filter=overdue_q(now)))
    )
    result = []
    for row in rows:
        name = f"{row['assignee__first_name']} {row['assignee__last_name']}".strip() or row["assignee__username"]
        rate = Completion(due=row["due"], done=row["done"]).rate
        result.append(
            {"id": row["assignee"], "name": name, "due": row["due"], "done": row["done"], "rate": rate}
            | {"overdue": row["overdue"]}
        )
    return sorted(result, key=lambda row: (-row["overdue"], row["name"]))


def at_risk_on_days(days: list[dt.date]) -> dict[str, int]:
    """Customers with a flag open at the end of each of ``days``, from when flags were raised and resolved.

    Backfills the at-risk trend for days no rollup measured (one query,
    one conditional distinct count per day).
    """
    if not days:
        return {}
    ends = {day.isoformat(): day_end(day) for day in days}
    aggregates = {
        f"d{index}": Count(
            "customer",
            distinct=True,
            filter=Q(raised_at__lt=end) & (Q(resolved_at__isnull=True) | Q(resolved_at__gte=end)),
        )
        for index, end in enumerate(ends.values())
    }
    first = min(ends.values())
    counts = RiskFlag.objects.filter(Q(resolved_at__isnull=True) | Q(resolved_at__gte=first)).aggregate(**aggregates)
    return {day: counts[f"d{index}"] for index, day in enumerate(ends)}


def day_end(day: dt.date) -> dt.datetime:
    """The first instant after ``day`` in the current time zone."""
    return timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min))


class NpsSummary:
    """NPS = % promoters (9–10) − % detractors (0–6); passives count in the denominator."""

    def __init__(self, *, responses: int, promoters: int, detractors: int) -> None:
        self.responses = responses
        self.promoters = promoters
        self.detractors = detractors
        self.passives = responses - promoters - detractors

    @property
    def score(self) -> int | None:
        if not self.responses:
            return None
        return round(100 * (self.promoters - self.detractors) / self.responses)
