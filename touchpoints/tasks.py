"""Periodic jobs of the check-ups (beat, see aftersales/celery.py): thin wrappers over the services.

Each is safe to repeat (claims and once-per-period Message-IDs), so the
project-wide ``acks_late`` + ``task_reject_on_worker_lost`` apply: a worker
lost mid-run means the job runs again, never that it is skipped.
"""

from __future__ import annotations

from celery import shared_task

from touchpoints.reminders import reminders_send, touchpoints_mark_missed


@shared_task(name="touchpoints.tasks.reminders_send_task")
def reminders_send_task() -> int:
    """Remind reps at work of check-ups that have fallen due."""
    return reminders_send()


@shared_task(name="touchpoints.tasks.touchpoints_mark_missed_task")
def touchpoints_mark_missed_task() -> int:
    """Mark check-ups overdue beyond the grace period as missed."""
    return touchpoints_mark_missed()
