"""Periodic jobs of the rep's day by mail (beat, see aftersales/celery.py): thin wrappers over the services.

Each is safe to repeat (once-per-period Message-IDs), so the project-wide
``acks_late`` + ``task_reject_on_worker_lost`` apply: a worker lost mid-run
means the job runs again, never that it is skipped.
"""

from __future__ import annotations

from celery import shared_task

from aftersales.myday.digests import digests_send, weekly_summaries_send


@shared_task(name="aftersales.myday.tasks.digests_send_task")
def digests_send_task() -> int:
    """Morning digest for each rep whose workday has begun and who has not had today's."""
    return digests_send()


@shared_task(name="aftersales.myday.tasks.weekly_summaries_send_task")
def weekly_summaries_send_task() -> int:
    """Last week's per-rep summary for managers who asked for it."""
    return weekly_summaries_send()
