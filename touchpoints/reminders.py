"""Reminders to reps when a check-up falls due, and the sweep that marks forgotten ones missed.

Both are periodic jobs (beat, and a management command each) that work in
SQL on ``touchpoint_due_sweep_idx`` (scheduled touch points by ``due_at``), in
batches; Python only sees one batch of rows at a time.

A reminder is sent once per touch point: the batch is *claimed* by setting
``reminder_sent_at`` in one conditional UPDATE (``WHERE reminder_sent_at IS
NULL``), and the reminder emails are written to the outbox in the same
transaction. If the transaction fails, neither the claim nor the emails
exist; if it commits, both do. Two runs at once cannot both claim a row: on
PostgreSQL the batch is read ``FOR UPDATE SKIP LOCKED`` (the second run skips
the first one's rows), on SQLite transactions are IMMEDIATE (one writer at a
time, so the second run reads after the first committed). Rescheduling a
touch point clears ``reminder_sent_at`` (touchpoint_reschedule), so the new
date gets its own reminder.
"""

from __future__ import annotations

import functools
import logging
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from aftersales.core.models import UserProfile
from aftersales.mail.models import OutboxEmail
from aftersales.mail.outbox import outbox_enqueue
from aftersales.webhooks.models import WebhookEvent
from aftersales.webhooks.services import webhook_emit_many
from customers.models import Customer
from touchpoints.careplan import email_subject
from touchpoints.models import Status, TouchPoint

logger = logging.getLogger(__name__)

DEFAULT_WORKDAY = (time(9, 0), time(18, 0))
BATCH_SIZE = 500


# --- Working hours -------------------------------------------------------------------


@dataclass(frozen=True)
class WorkHours:
    """A user's working day on their own clock (09:00–18:00 UTC without a profile)."""

    tz: zoneinfo.ZoneInfo
    start: time
    end: time

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.tz)

    def contains(self, moment: datetime) -> bool:
        return self.start <= self.local(moment).time() < self.end


def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def work_hours(user_ids: Iterable[int]) -> dict[int, WorkHours]:
    """Working hours of each user, in one query."""
    ids = list(user_ids)
    default = WorkHours(zoneinfo.ZoneInfo("UTC"), *DEFAULT_WORKDAY)
    hours = dict.fromkeys(ids, default)
    for user_id, tz, start, end in UserProfile.objects.filter(user_id__in=ids).values_list(
        "user_id", "timezone", "workday_start", "workday_end"
    ):
        hours[user_id] = WorkHours(_zone(tz), start, end)
    return hours


def site_url(path: str) -> str:
    return settings.SITE_URL + path


# --- Reminders ---------------------------------------------------------------------


def _reminder_window_start(now: datetime) -> datetime:
    """Reminders are for check-ups that fell due recently: older ones are overdue (the digest
    lists them) and, past the grace period, missed. Without this bound, the first run on a
    database full of old open check-ups would bury every rep in mail."""
    return now - timedelta(days=settings.AFTERSALES["MISSED_GRACE_DAYS"])


def reminders_send(*, now: datetime | None = None, batch_size: int = BATCH_SIZE) -> int:
    """Queue one reminder per scheduled touch point that has fallen due, for reps now at work.

    A rep outside their working hours keeps their reminders for the next
    window: the rows stay unclaimed. Returns how many reminders were queued.
    """
    now = now or timezone.now()
    due = (
        TouchPoint.objects.due_by(now)  # touchpoint_due_sweep_idx: status = scheduled, due_at range
        .filter(due_at__gte=_reminder_window_start(now), reminder_sent_at__isnull=True)
        .order_by()
    )
    # One row per assignee with something due: reps are few, touch points many.
    hours = work_hours(set(due.values_list("assignee_id", flat=True).distinct()))
    at_work = [user_id for user_id, rep_hours in hours.items() if rep_hours.contains(now)]
    if not at_work:
        return 0
    queued = 0
    while True:
        with transaction.atomic():
            ids = list(
                due.filter(assignee_id__in=at_work)
                .select_for_update(skip_locked=True)
                .order_by("due_at", "pk")
                .values_list("pk", flat=True)[:batch_size]
            )
            if not ids:
                break
            # The claim. The rows are ours (locked, or read inside an
            # IMMEDIATE transaction), so every one of them is updated.
            TouchPoint.objects.filter(pk__in=ids, status=Status.SCHEDULED, reminder_sent_at__isnull=True).update(
                reminder_sent_at=now
            )
            claimed = TouchPoint.objects.filter(pk__in=ids, reminder_sent_at=now).select_related("customer", "assignee")
            for touchpoint in claimed:
                queued += _enqueue_reminder(touchpoint, hours[touchpoint.assignee_id])
        if len(ids) < batch_size:
            break
    return queued


def _enqueue_reminder(touchpoint: TouchPoint, hours: WorkHours) -> int:
    rep = touchpoint.assignee
    if not rep.email or not rep.is_active:
        return 0  # claimed all the same: nobody to tell, and no reason to try again
    context = {
        "touchpoint": touchpoint,
        "customer": touchpoint.customer,
        "rep": rep,
        "tz": hours.tz,
        "tz_name": str(hours.tz),
        "customer_url": site_url(touchpoint.customer.get_absolute_url()),
    }
    outbox_enqueue(
        to=rep.email,
        subject=email_subject(f"Check-up due: {touchpoint.customer} ({touchpoint.get_channel_display()})"),
        body_text=render_to_string("emails/reminder.txt", context),
        body_html=render_to_string("emails/reminder.html", context),
        kind=OutboxEmail.Kind.REMINDER,
        headers={"X-Aftersales-Touchpoint": str(touchpoint.pk)},
    )
    return 1


# --- Missed ---------------------------------------------------------------------------


def touchpoints_mark_missed(*, now: datetime | None = None, batch_size: int = 1000) -> int:
    """Mark scheduled touch points overdue beyond the grace period as missed, in batches.

    Each batch is one UPDATE on a bounded id list (taken from the due-sweep
    index), in its own transaction, so locks are short and a huge backlog
    never becomes one giant statement. A rep can still log, reschedule or
    cancel a missed check-up (touchpoints.services.OPEN_STATUSES).
    """
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.AFTERSALES["MISSED_GRACE_DAYS"])
    overdue = TouchPoint.objects.scheduled().filter(due_at__lt=cutoff).order_by("due_at", "pk")
    marked = 0
    while True:
        with transaction.atomic():
            ids = list(overdue.select_for_update(skip_locked=True).values_list("pk", flat=True)[:batch_size])
            if not ids:
                break
            # WHERE status = scheduled again: a rep may have logged one since the read.
            batch = TouchPoint.objects.filter(pk__in=ids, status=Status.SCHEDULED, due_at__lt=cutoff)
            marked += batch.update(status=Status.MISSED, updated_at=now)
            webhook_emit_many(event=WebhookEvent.CHECKUP_MISSED, payloads=functools.partial(_missed_payloads, ids, now))
            # A missed check-up lowers the customer's health: have the health
            # sweep recompute these customers (one UPDATE with a subquery).
            Customer.objects.filter(
                pk__in=TouchPoint.objects.filter(pk__in=ids, status=Status.MISSED).values("customer_id")
            ).mark_health_due()
        if len(ids) < batch_size:
            break
    if marked:
        logger.info("touchpoints: marked %s check-up(s) missed", marked)
    return marked


def _missed_payloads(ids: list[int], now: datetime) -> list[dict]:
    """What a ``checkup.missed`` webhook says about the check-ups this batch marked."""
    missed = TouchPoint.objects.filter(pk__in=ids, status=Status.MISSED, updated_at=now).select_related("customer")
    return [
        {
            "touchpoint": {"id": tp.pk, "due_at": tp.due_at, "channel": tp.channel, "objective": tp.objective},
            "customer": {"id": tp.customer_id, "external_ref": tp.customer.external_ref, "name": tp.customer.name},
        }
        for tp in missed
    ]
