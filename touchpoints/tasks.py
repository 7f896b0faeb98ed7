"""Periodic jobs of the rep workflow (beat, see aftersales/celery.py): thin wrappers over the services.

Each is safe to repeat (claims and once-per-period Message-IDs), so the
project-wide ``acks_late`` + ``task_reject_on_worker_lost`` apply: a worker
lost mid-run means the job runs again, never that it is skipped.
"""

from __future__ import annotations

from celery import shared_task

from .digests import digests_send, weekly_summaries_send
from .reminders import reminders_send, touchpoints_mark_missed


@shared_task(name="touchpoints.tasks.reminders_send_task")
def reminders_send_task() -> int:
    """Remind reps at work of check-ups that have fallen due."""
    return reminders_send()


@shared_task(name="touchpoints.tasks.digests_send_task")
def digests_send_task() -> int:
    """Morning digest for each rep whose workday has begun and who has not had today's."""
    return digests_send()


@shared_task(name="touchpoints.tasks.touchpoints_mark_missed_task")
def touchpoints_mark_missed_task() -> int:
    """Mark check-ups overdue beyond the grace period as missed."""
    return touchpoints_mark_missed()


@shared_task(name="touchpoints.tasks.weekly_summaries_send_task")
def weekly_summaries_send_task() -> int:
    """Last week's per-rep summary for managers who asked for it."""
    return weekly_summaries_send()
