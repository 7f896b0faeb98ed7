"""Celery task of the spreadsheet import: commits a previewed file in a worker."""

from __future__ import annotations

from celery import shared_task

from aftersales.imports.jobs import COMMIT_TASK, import_job_run


@shared_task(name=COMMIT_TASK, soft_time_limit=1800, time_limit=1900)
def import_commit_task(job_id: int) -> str:
    """Commit a previewed spreadsheet import; queued on commit by ``import_job_queue``."""
    return import_job_run(job_id=job_id).status
