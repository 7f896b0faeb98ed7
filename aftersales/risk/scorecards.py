"""A rep's scorecard: the dashboard's figures for one rep's book, each an aggregate in SQL.

Six queries whatever the data size (one per figure group); nothing is
loaded row by row. The window is a period: the last 30, 90 or 365 days, or the
current calendar quarter so far; the default (``DEFAULT_PERIOD``) is the
dashboard's completion window, so the two pages agree on a rep's figures.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Avg, Count, DurationField, Exists, ExpressionWrapper, F, OuterRef, Q
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from aftersales.core.roles import Actor
from customers.models import HEALTH_BAND_RANGES, Customer
from feedback.models import SurveyInvitation, SurveyResponse
from feedback.scores import DETRACTORS, PROMOTERS
from touchpoints.models import Status, TouchPoint, overdue_q
from touchpoints.selectors import COMPLETION_WINDOW_DAYS, Completion, completion_counts

SCORECARD_DAYS = COMPLETION_WINDOW_DAYS

# ``?period=`` values and how the page names them; days counted back from now, or the quarter so far.
PERIODS: dict[str, Promise] = {
    "30": _("the last 30 days"),
    "90": _("the last 90 days"),
    "365": _("the last 365 days"),
    "quarter": _("this quarter"),
}
DEFAULT_PERIOD = str(SCORECARD_DAYS)


def period_start(period: str, now: dt.datetime) -> dt.datetime:
    """When ``period`` began: ``now`` minus its days, or midnight on the first day of the local quarter."""
    if period == "quarter":
        local = timezone.localtime(now)
        first_month = 3 * ((local.month - 1) // 3) + 1
        return local.replace(month=first_month, day=1, hour=0, minute=0, second=0, microsecond=0)
    return now - dt.timedelta(days=int(period))


def _percent(part: int, whole: int) -> int | None:
    return round(100 * part / whole) if whole else None


@dataclass(frozen=True)
class Scorecard:
    rep: object
    period: str
    since: dt.datetime
    customers: int
    at_risk: int
    bands: dict[str, int]
    unscored: int
    overdue: int
    overdue_customers: int  # the customers those overdue check-ups are for (what the customer list counts)
    due: int
    done: int
    missed: int
    nps_responses: int
    promoters: int
    detractors: int
    csat_average: float | None
    answered_customers: int  # the customers behind the answers (what the customer list counts)
    invitations_sent: int
    invitations_answered: int
    invited_customers: int
    loops_closed: int
    loops_open: int
    loop_median_hours: float | None

    @property
    def completion_rate(self) -> int | None:
        """Check-ups done out of those that fell due in the window (the dashboard's figure for this rep)."""
        return Completion(due=self.due, done=self.done).rate

    @property
    def nps(self) -> int | None:
        """% promoters − % detractors (DESIGN.md); passives count in the denominator."""
        if not self.nps_responses:
            return None
        return round(100 * (self.promoters - self.detractors) / self.nps_responses)

    @property
    def response_rate(self) -> int | None:
        return _percent(self.invitations_answered, self.invitations_sent)

    @property
    def period_label(self) -> Promise:
        return PERIODS[self.period]

    @property
    def since_param(self) -> str:
        """The period's start as the customer list's ``answered_since`` / ``invited_since`` take it."""
        return self.since.astimezone(dt.UTC).isoformat()


def rep_scorecard(rep: Actor, *, period: str = DEFAULT_PERIOD, now: dt.datetime | None = None) -> Scorecard:
    """``rep``'s figures over ``period`` (a key of ``PERIODS``); the book and its flags as of ``now``."""
    now = now or timezone.now()
    since = period_start(period, now)
    book = Customer.objects.not_merged().filter(owner=rep).order_by()
    band_counts = {
        band: Count("pk", filter=Q(health_score__gte=low, health_score__lte=high))
        for band, (low, high) in HEALTH_BAND_RANGES.items()
    }
    counts = book.aggregate(
        customers=Count("pk"),
        at_risk=Count("pk", filter=Q(Exists(Customer.objects.at_risk(now).filter(pk=OuterRef("pk"))))),
        unscored=Count("pk", filter=Q(health_score__isnull=True)),
        **band_counts,
    )
    assigned = TouchPoint.objects.filter(assignee=rep).order_by()
    checkups = assigned.aggregate(
        overdue=Count("pk", filter=overdue_q(now)),
        overdue_customers=Count("customer", filter=overdue_q(now), distinct=True),
        **completion_counts(since, now),
        missed=Count("pk", filter=Q(status=Status.MISSED, due_at__gte=since, due_at__lt=now)),
    )
    answers = SurveyResponse.objects.filter(customer__owner=rep, submitted_at__gte=since).order_by()
    survey = answers.aggregate(
        nps_responses=Count("pk", filter=Q(nps__isnull=False)),
        promoters=Count("pk", filter=PROMOTERS),
        detractors=Count("pk", filter=DETRACTORS),
        csat_average=Avg("csat"),
        answered_customers=Count("customer", distinct=True),
    )
    invitations = SurveyInvitation.objects.filter(customer__owner=rep, sent_at__gte=since).aggregate(
        sent=Count("pk"),
        answered=Count("pk", filter=Q(responded_at__isnull=False)),
        customers=Count("customer", distinct=True),
    )
    loops = SurveyResponse.objects.filter(customer__owner=rep, loop_opened_at__gte=since).order_by()
    loop_counts = loops.aggregate(
        closed=Count("pk", filter=Q(loop_closed_at__isnull=False)),
        open=Count("pk", filter=Q(loop_closed_at__isnull=True)),
    )
    return Scorecard(
        rep=rep,
        period=period,
        since=since,
        customers=counts["customers"],
        at_risk=counts["at_risk"],
        bands={band: counts[band] for band in HEALTH_BAND_RANGES},
        unscored=counts["unscored"],
        overdue=checkups["overdue"],
        overdue_customers=checkups["overdue_customers"],
        due=checkups["due"],
        done=checkups["done"],
        missed=checkups["missed"],
        nps_responses=survey["nps_responses"],
        promoters=survey["promoters"],
        detractors=survey["detractors"],
        csat_average=round(survey["csat_average"], 1) if survey["csat_average"] is not None else None,
        answered_customers=survey["answered_customers"],
        invitations_sent=invitations["sent"],
        invitations_answered=invitations["answered"],
        invited_customers=invitations["customers"],
        loops_closed=loop_counts["closed"],
        loops_open=loop_counts["open"],
        loop_median_hours=_median_loop_hours(loops, loop_counts["closed"]),
    )


def _median_loop_hours(loops, closed: int) -> float | None:
    """The middle closed loop by duration, picked in SQL (ORDER BY … OFFSET n/2 LIMIT 1): one row read."""
    if not closed:
        return None
    duration = ExpressionWrapper(F("loop_closed_at") - F("loop_opened_at"), output_field=DurationField())
    middle = (
        loops.filter(loop_closed_at__isnull=False)
        .annotate(duration=duration)
        .order_by("duration", "pk")
        .values_list("duration", flat=True)[closed // 2]
    )
    return round(middle.total_seconds() / 3600, 1)
