"""The rep's morning digest and the manager's weekly summary.

Both run often (beat) and send at most once per period: the email's
Message-ID is derived from the recipient and the period
(``<digest-42-2026-03-02@…>``), and the outbox keeps Message-IDs unique. So
the outbox row *is* the record that the digest went out: a second run (or
two at once) finds it, or fails to insert it and skips, inside the same
transaction that would have queued the mail. No extra table, no migration.

They loop over reps and managers (tens), never over touch points or
customers: every list is sliced in SQL and every count is aggregated there.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from aftersales.core.roles import MANAGERS, REPS, Actor
from aftersales.mail.models import OutboxEmail
from customers.models import Customer, RiskFlag
from feedback.models import SurveyResponse
from feedback.scores import DETRACTORS
from touchpoints.models import Status, TouchPoint
from touchpoints.reminders import WorkHours, site_url, work_hours
from touchpoints.selectors import Day, bounded

logger = logging.getLogger(__name__)

DIGEST_LIST_LIMIT = 10
# "New answers" in a digest: what came in since yesterday's digest.
DIGEST_ANSWERS_HOURS = 24


def _message_id(*parts: object) -> str:
    return f"<{'-'.join(str(part) for part in parts)}@{settings.EMAIL_MESSAGE_ID_DOMAIN}>"


def _enqueue_once(*, message_id: str, **fields) -> bool:
    """Queue the email unless one with this Message-ID exists; True when queued."""
    from aftersales.mail.outbox import outbox_enqueue

    try:
        with transaction.atomic():  # a savepoint: a lost race leaves the caller's transaction usable
            outbox_enqueue(message_id=message_id, **fields)
    except IntegrityError:
        return False
    return True


def _sent_already(message_ids: list[str]) -> set[str]:
    return set(OutboxEmail.objects.filter(message_id__in=message_ids).values_list("message_id", flat=True))


# --- Morning digest ---------------------------------------------------------------------


@dataclass
class Digest:
    day: Day
    overdue: list = field(default_factory=list)
    overdue_more: bool = False
    due_today: list = field(default_factory=list)
    due_today_more: bool = False
    at_risk: list = field(default_factory=list)
    at_risk_more: bool = False
    answers: list = field(default_factory=list)
    answers_more: bool = False

    @property
    def is_empty(self) -> bool:
        return not (self.overdue or self.due_today or self.at_risk or self.answers)


def digest_for(user: Actor, *, now: datetime, hours: WorkHours) -> Digest:
    """What a rep's morning digest says, in a fixed number of bounded queries."""
    day = Day.of(now, hours.tz)
    scheduled = TouchPoint.objects.assigned_to(user).scheduled().select_related("customer").order_by("due_at", "pk")
    digest = Digest(day=day)
    digest.overdue, digest.overdue_more = bounded(scheduled.overdue(now), DIGEST_LIST_LIMIT)
    digest.due_today, digest.due_today_more = bounded(scheduled.due_later_today(now, day.end), DIGEST_LIST_LIMIT)
    visible = RiskFlag.objects.visible(now)
    digest.at_risk, digest.at_risk_more = bounded(
        Customer.objects.filter(owner=user).filter(Exists(visible.filter(customer=OuterRef("pk")))).order_by("name"),
        DIGEST_LIST_LIMIT,
    )
    digest.answers, digest.answers_more = bounded(
        SurveyResponse.objects.filter(
            customer__owner=user, submitted_at__gte=now - timedelta(hours=DIGEST_ANSWERS_HOURS)
        )
        .select_related("customer")
        .order_by("-submitted_at", "-pk"),
        DIGEST_LIST_LIMIT,
    )
    return digest


def _count(rows: list, more: bool) -> str:
    return f"{len(rows)}+" if more else str(len(rows))


def digests_send(*, now: datetime | None = None) -> int:
    """Queue the morning digest for every rep now at work who has not had today's and has something in it."""
    now = now or timezone.now()
    reps = list(get_user_model().objects.filter(is_active=True, groups__name=REPS).exclude(email="").distinct())
    hours = work_hours(rep.pk for rep in reps)
    candidates = {}
    for rep in reps:
        if hours[rep.pk].contains(now):
            candidates[_message_id("digest", rep.pk, hours[rep.pk].local(now).date())] = rep
    queued = 0
    for message_id in candidates.keys() - _sent_already(list(candidates)):
        rep = candidates[message_id]
        digest = digest_for(rep, now=now, hours=hours[rep.pk])
        if digest.is_empty:
            continue  # nothing to say today; a later run may find something (a new answer)
        context = {"rep": rep, "digest": digest, "tz": hours[rep.pk].tz, "my_day_url": site_url(reverse("my_day"))}
        with transaction.atomic():
            queued += _enqueue_once(
                message_id=message_id,
                to=rep.email,
                subject=f"Your day, {digest.day.date:%A %d %B}: {_count(digest.due_today, digest.due_today_more)} due, "
                f"{_count(digest.overdue, digest.overdue_more)} overdue",
                body_text=render_to_string("emails/digest.txt", context),
                body_html=render_to_string("emails/digest.html", context),
                kind=OutboxEmail.Kind.DIGEST,
            )
    return queued


# --- Weekly summary for managers ------------------------------------------------------------


@dataclass
class RepWeek:
    rep: object
    done: int = 0
    missed: int = 0
    overdue: int = 0
    at_risk: int = 0
    answers: int = 0
    detractors: int = 0


def week_bounds(moment: datetime, hours: WorkHours) -> tuple[date, datetime, datetime]:
    """The last full ISO week (Monday to Sunday) on the manager's clock: its Monday, start and end."""
    this_monday = Day.of(moment, hours.tz).start - timedelta(days=moment.astimezone(hours.tz).weekday())
    start = this_monday - timedelta(days=7)
    return start.date(), start, this_monday


def weekly_rows(*, start: datetime, end: datetime, now: datetime) -> list[RepWeek]:
    """Per-rep figures for a week, in five aggregate queries whatever the data size."""
    reps = list(get_user_model().objects.filter(is_active=True, groups__name=REPS).order_by("username").distinct())
    rows = {rep.pk: RepWeek(rep=rep) for rep in reps}

    def fill(attribute: str, queryset, key: str) -> None:
        for user_id, count in queryset.order_by().values_list(key).annotate(n=Count("pk")):
            if user_id in rows:
                setattr(rows[user_id], attribute, count)

    done = TouchPoint.objects.filter(status=Status.DONE, completed_at__gte=start, completed_at__lt=end)
    fill("done", done, "assignee")
    fill("missed", TouchPoint.objects.filter(status=Status.MISSED, due_at__gte=start, due_at__lt=end), "assignee")
    fill("overdue", TouchPoint.objects.overdue(now), "assignee")
    fill("at_risk", Customer.objects.at_risk(now), "owner")
    answers = SurveyResponse.objects.filter(submitted_at__gte=start, submitted_at__lt=end)
    for owner_id, count, detractors in (
        answers.order_by().values_list("customer__owner").annotate(n=Count("pk"), d=Count("pk", filter=DETRACTORS))
    ):
        if owner_id in rows:
            rows[owner_id].answers, rows[owner_id].detractors = count, detractors
    return list(rows.values())


def weekly_summaries_send(*, now: datetime | None = None) -> int:
    """Queue last week's per-rep summary to each manager who asked for it, once per week, during their hours."""
    now = now or timezone.now()
    managers = list(
        get_user_model()
        .objects.filter(is_active=True, profile__wants_weekly_summary=True)
        .filter(Q(groups__name=MANAGERS) | Q(is_superuser=True))
        .exclude(email="")
        .distinct()
    )
    hours = work_hours(manager.pk for manager in managers)
    candidates = {}
    for manager in managers:
        if hours[manager.pk].contains(now):
            monday, _start, _end = week_bounds(now, hours[manager.pk])
            candidates[_message_id("weekly", manager.pk, monday)] = manager
    queued = 0
    for message_id in candidates.keys() - _sent_already(list(candidates)):
        manager = candidates[message_id]
        monday, start, end = week_bounds(now, hours[manager.pk])
        context = {
            "manager": manager,
            "monday": monday,
            "sunday": monday + timedelta(days=6),
            "rows": weekly_rows(start=start, end=end, now=now),
            "dashboard_url": site_url(reverse("dashboard")),
        }
        with transaction.atomic():
            queued += _enqueue_once(
                message_id=message_id,
                to=manager.email,
                subject=f"Weekly summary per rep, week of {monday:%d %B %Y}",
                body_text=render_to_string("emails/weekly_summary.txt", context),
                body_html=render_to_string("emails/weekly_summary.html", context),
                kind=OutboxEmail.Kind.DIGEST,
            )
    return queued
