"""Read-side queries of the customer pages: the filtered list and a customer's history.

Every function here runs a fixed number of queries whatever the row counts:
lists are sliced in SQL, related rows come with ``select_related`` or one
prefetch, and the timeline takes at most ``limit`` rows from each source.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import islice
from typing import cast

from django.db.models import Case, Exists, F, OuterRef, Prefetch, Q, QuerySet, When
from django.db.models.expressions import OrderBy
from django.utils import timezone

from aftersales.audit.models import AuditAction, AuditEvent
from aftersales.core.roles import Visitor
from aftersales.customer_pages.audit import audit_lines
from aftersales.mail.models import OutboxEmail
from customers.models import Customer, CustomerQuerySet, HealthBand, Purchase, RiskFlag
from feedback.models import SurveyInvitation, SurveyResponse
from feedback.scores import DETRACTORS, PASSIVES, PROMOTERS
from touchpoints.models import Kind, Status, TouchPoint

# --- The customer list ------------------------------------------------------------

# Sort keys a request may ask for (``?sort=health`` or ``?sort=-health``).
# Missing values (never contacted, not scored, no quiet date) come first
# ascending and last descending: the two orders are mirror images, so one
# PostgreSQL index per key, ``(key NULLS FIRST, id)``, serves both (migration
# customers/0003) and SQLite, whose NULLs sort first anyway, needs nothing.
SORTS: dict[str, tuple[OrderBy, OrderBy]] = {
    "name": (F("name").asc(), F("name").desc()),
    "last_contact": (F("last_contact_at").asc(nulls_first=True), F("last_contact_at").desc(nulls_last=True)),
    "health": (F("health_score").asc(nulls_first=True), F("health_score").desc(nulls_last=True)),
    "quiet_after": (F("quiet_after").asc(nulls_first=True), F("quiet_after").desc(nulls_last=True)),
}
SORT_LABELS = {"name": "Name", "last_contact": "Last contact", "health": "Health", "quiet_after": "Quiet after"}
DEFAULT_SORT = "name"


def sort_choices() -> list[tuple[str, str]]:
    """Every accepted ``sort`` value with a label, ascending then descending."""
    return [
        (value, f"{label} ({direction})")
        for key, label in SORT_LABELS.items()
        for value, direction in ((key, "A→Z" if key == "name" else "ascending"), (f"-{key}", "descending"))
    ]


@dataclass(frozen=True)
class CustomerFilters:
    """What the list was asked for, already validated by the view's form."""

    q: str = ""
    owner_id: int | None = None
    product_id: int | None = None
    band: str = ""
    quiet: bool = False
    sort: str = DEFAULT_SORT
    # Drill-downs from the dashboard's charts (aftersales/dashboard/views.py).
    answered: str = ""  # "YYYY-MM": answered a survey that month …
    nps: str = ""  # … optionally as a "promoter", "passive" or "detractor"
    invited: str = ""  # "YYYY-MM": sent a survey invitation that month
    # Drill-downs from a rep's scorecard, whose periods are not months (aftersales/risk/scorecards.py).
    answered_since: datetime | None = None  # answered a survey at or after this instant (``nps`` applies too)
    invited_since: datetime | None = None  # sent a survey invitation at or after this instant
    overdue: bool = False  # has a scheduled check-up past its due time …
    overdue_for: int | None = None  # … assigned to this user (served by touchpoint_myday_idx)
    flagged_on: date | None = None  # had an open risk flag at the end of that day


def customer_search(*, user: Visitor, filters: CustomerFilters, now: datetime | None = None) -> QuerySet[Customer]:
    """The customers ``user`` may see that match ``filters``, in the asked order (pk breaks ties).

    The product filter is an EXISTS, not a JOIN: a customer who bought the
    product twice is listed once and no DISTINCT is needed. The owner filter is
    applied on top of ``owned_by``, so a rep asking for another rep's
    customers gets nothing rather than them.
    """
    customers = Customer.objects.owned_by(user)
    if filters.q:
        q = filters.q
        customers = customers.filter(Q(name__icontains=q) | Q(company__icontains=q) | Q(email__icontains=q))
    if filters.owner_id is not None:
        customers = customers.filter(owner_id=filters.owner_id)
    if filters.product_id is not None:
        bought = Purchase.objects.filter(customer=OuterRef("pk"), product_id=filters.product_id)
        customers = customers.filter(Exists(bought))
    if filters.band in HealthBand.values:
        customers = customers.in_band(filters.band)
    if filters.quiet:
        customers = customers.quiet(now)
    customers = _drilldown(customers, filters, now or timezone.now())
    key = filters.sort.removeprefix("-")
    ascending, descending = SORTS.get(key, SORTS[DEFAULT_SORT])
    order = descending if filters.sort.startswith("-") and key in SORTS else ascending
    return customers.order_by(order, "pk" if order is ascending else "-pk")


OVERDUE_FENCE = 10**9  # larger than any real count: only there to fence the subquery
NPS_SEGMENTS = {"promoter": PROMOTERS, "passive": PASSIVES, "detractor": DETRACTORS}


def month_range(month: str) -> tuple[datetime, datetime]:
    """The instants a "YYYY-MM" month starts and ends in the current time zone."""
    year, number = (int(part) for part in month.split("-"))
    following = (year + 1, 1) if number == 12 else (year, number + 1)
    return (
        timezone.make_aware(datetime(year, number, 1)),
        timezone.make_aware(datetime(following[0], following[1], 1)),
    )


def _drilldown(customers: CustomerQuerySet, filters: CustomerFilters, now: datetime) -> CustomerQuerySet:
    """The dashboard's "customers behind this number", each an EXISTS so nobody is listed twice."""
    if filters.answered or filters.answered_since:
        answers = SurveyResponse.objects.filter(customer=OuterRef("pk"))
        if filters.answered:
            start, end = month_range(filters.answered)
            answers = answers.filter(submitted_at__gte=start, submitted_at__lt=end)
        if filters.answered_since:
            answers = answers.filter(submitted_at__gte=filters.answered_since)
        if filters.nps in NPS_SEGMENTS:
            answers = answers.filter(NPS_SEGMENTS[filters.nps])
        customers = customers.filter(Exists(answers))
    if filters.invited or filters.invited_since:
        invitations = SurveyInvitation.objects.filter(customer=OuterRef("pk"))
        if filters.invited:
            start, end = month_range(filters.invited)
            invitations = invitations.filter(sent_at__gte=start, sent_at__lt=end)
        if filters.invited_since:
            invitations = invitations.filter(sent_at__gte=filters.invited_since)
        customers = customers.filter(Exists(invitations))
    if filters.overdue or filters.overdue_for is not None:
        overdue = TouchPoint.objects.overdue(now)
        if filters.overdue_for is not None:
            overdue = overdue.filter(assignee_id=filters.overdue_for)
        # An IN over a LIMITed subquery, not an EXISTS: PostgreSQL overestimates the
        # overdue rows (status and due_at look independent to it) and then walks every
        # customer's touch points; the LIMIT keeps the subquery apart, read once from
        # touchpoint_due_sweep_idx / touchpoint_myday_idx (docs/BENCHMARKS.md, dashboard).
        customers = customers.filter(pk__in=overdue.values("customer_id")[:OVERDUE_FENCE])
    if filters.flagged_on:
        end = timezone.make_aware(datetime.combine(filters.flagged_on + timedelta(days=1), time.min))
        open_then = RiskFlag.objects.filter(customer=OuterRef("pk"), raised_at__lt=end).filter(
            Q(resolved_at__isnull=True) | Q(resolved_at__gte=end)
        )
        customers = customers.filter(Exists(open_then))
    return customers


@dataclass(frozen=True)
class CustomerPage:
    """One page of the list, found without counting the whole result.

    ``count`` is exact up to ``count_cap`` and None above it ("more than …"):
    counting every match of a broad search at 100,000 customers costs more
    than showing the page itself (measured by bench/customer_pages.py).
    """

    number: int
    object_list: Sequence[Customer]
    has_next: bool
    count: int | None
    count_cap: int
    size: int

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_other_pages(self) -> bool:
        return self.has_previous or self.has_next

    @property
    def next_page_number(self) -> int:
        return self.number + 1

    @property
    def previous_page_number(self) -> int:
        return self.number - 1

    @property
    def start_index(self) -> int:
        return (self.number - 1) * self.size + 1 if self.object_list else 0

    @property
    def end_index(self) -> int:
        return (self.number - 1) * self.size + len(self.object_list)

    @property
    def num_pages(self) -> int | None:
        if self.count is None:
            return None
        return max(1, -(-self.count // self.size))


def customer_page(customers: QuerySet[Customer], *, number: int, size: int, count_cap: int) -> CustomerPage:
    """Rows ``size`` × (number − 1) onwards, one more to know if a next page exists.

    Two queries: the capped count (``SELECT COUNT(*) FROM (… LIMIT cap + 1)``)
    and the page with its owners; the open flags of the page come in a third.
    A page past the end shows the last page when the count is known.
    """
    count = customers.order_by()[: count_cap + 1].count()
    exact = count if count <= count_cap else None
    if exact is not None:
        number = min(number, max(1, -(-exact // size)))
    offset = (number - 1) * size
    rows = list(
        # Notes and the health explanation can be long and are not shown in the list.
        customers.defer("notes", "health_explanation")
        .select_related("owner")
        .prefetch_related(
            Prefetch("flags", queryset=RiskFlag.objects.open().order_by("-raised_at", "pk"), to_attr="open_flags")
        )[offset : offset + size + 1]
    )
    return CustomerPage(
        number=number,
        object_list=rows[:size],
        has_next=len(rows) > size,
        count=exact,
        count_cap=count_cap,
        size=size,
    )


# --- A customer's page -------------------------------------------------------------


@dataclass(frozen=True)
class TimelineEvent:
    """One line of the timeline; ``template`` renders ``obj`` (a touch point, an answer, a flag, an email)."""

    at: datetime
    kind: str
    obj: object

    @property
    def template(self) -> str:
        return f"customers/_timeline_{self.kind}.html"


# When a touch point happened, for the timeline: done ones when they were
# logged, cancelled ones when they were cancelled (their last change), the
# rest (missed, or scheduled and overdue) on their due date.
TOUCHPOINT_EVENT_AT = Case(
    When(status=Status.DONE, then=F("completed_at")),
    When(status=Status.CANCELLED, then=F("updated_at")),
    default=F("due_at"),
)


# Changes to the customer's profile shown in the timeline (reps see them; the Audit section is managers').
PROFILE_ACTIONS = (AuditAction.CREATED, AuditAction.CHANGED, AuditAction.MERGED)


def customer_timeline(*, customer: Customer, limit: int = 100, now: datetime | None = None) -> list[TimelineEvent]:
    """The latest ``limit`` events of a customer, newest first, in six queries whatever the history
    (and one more per kind of id a profile change names: a rep, in words).

    Each source gives its own newest ``limit`` rows; merging them and keeping
    the first ``limit`` is then exact. Scheduled touch points still to come
    are not history: they are in ``customer_upcoming``.
    """
    now = now or timezone.now()
    touchpoints = (
        customer.touchpoints.annotate(event_at=TOUCHPOINT_EVENT_AT)
        .filter(event_at__lte=now)
        .select_related("assignee")
        .order_by("-event_at", "-pk")[:limit]
    )
    answers = SurveyResponse.objects.filter(customer=customer).select_related("invitation__survey")
    answers = answers.order_by("-submitted_at", "-pk")[:limit]
    raised = customer.flags.select_related("resolved_by").order_by("-raised_at", "-pk")[:limit]
    resolved = (
        customer.flags.filter(resolved_at__isnull=False)
        .select_related("resolved_by")
        .order_by("-resolved_at", "-pk")[:limit]
    )
    # Bodies can be long and are not shown: the envelope is enough.
    emails = (
        OutboxEmail.objects.filter(customer=customer)
        .only("pk", "kind", "to", "subject", "created_at", "sent_at", "failed_at", "customer_id")
        .order_by("-created_at", "-pk")[:limit]
    )
    profile = (
        AuditEvent.objects.filter(customer=customer, object_type="customers.customer", action__in=PROFILE_ACTIONS)
        .select_related("actor")
        .order_by("-created_at", "-pk")[:limit]
    )
    streams = [
        [TimelineEvent(event.created_at, "profile", event) for event in profile],
        [TimelineEvent(tp.event_at, "touchpoint", tp) for tp in touchpoints],
        [TimelineEvent(answer.submitted_at, "answer", answer) for answer in answers],
        [TimelineEvent(flag.raised_at, "flag_raised", flag) for flag in raised],
        [TimelineEvent(flag.resolved_at, "flag_resolved", flag) for flag in resolved if flag.resolved_at is not None],
        [TimelineEvent(email.created_at, "email", email) for email in emails],
    ]
    merged = list(islice(heapq.merge(*streams, key=lambda event: event.at, reverse=True), limit))
    audit_lines(cast(AuditEvent, event.obj) for event in merged if event.kind == "profile")
    return merged


@dataclass(frozen=True)
class Upcoming:
    """Scheduled touch points still to come: the care plan shared with the customer, and the rep's other next steps."""

    care_plan: list[TouchPoint]
    next_steps: list[TouchPoint]
    more: bool


CARE_PLAN_KINDS = (Kind.PLANNED, Kind.RENEWAL)


def customer_upcoming(*, customer: Customer, limit: int = 50, now: datetime | None = None) -> Upcoming:
    """One query: the next ``limit`` scheduled touch points, soonest first, split by kind."""
    rows = list(
        customer.touchpoints.scheduled()
        .filter(due_at__gt=now or timezone.now())
        .select_related("assignee")
        .order_by("due_at", "pk")[: limit + 1]
    )
    more, rows = len(rows) > limit, rows[:limit]
    return Upcoming(
        care_plan=[tp for tp in rows if tp.kind in CARE_PLAN_KINDS],
        next_steps=[tp for tp in rows if tp.kind not in CARE_PLAN_KINDS],
        more=more,
    )


@dataclass(frozen=True)
class HealthMove:
    points: int
    reason: str

    @property
    def signed(self) -> str:
        """The points with their sign, as a manager reads them: +10, −20 (a real minus sign), ±0."""
        return f"+{self.points}" if self.points > 0 else f"−{abs(self.points)}" if self.points < 0 else "±0"


def health_moves(customer: Customer) -> list[HealthMove]:
    """The stored explanation of the health score, biggest moves first.

    The JSON is written by the health service (``[{"points": -20, "reason": "…"}]``);
    an entry of another shape is shown as its text rather than breaking the page.
    """
    moves = []
    for entry in customer.health_explanation if isinstance(customer.health_explanation, list) else []:
        if isinstance(entry, dict):
            try:
                points = int(entry.get("points", 0))
            except (TypeError, ValueError):
                points = 0
            moves.append(HealthMove(points, str(entry.get("reason", ""))))
        else:
            moves.append(HealthMove(0, str(entry)))
    return sorted(moves, key=lambda move: -abs(move.points))
