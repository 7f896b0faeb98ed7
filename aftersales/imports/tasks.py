"""Celery tasks of the spreadsheet import: thin wrappers that take ids and call aftersales/imports/jobs.py."""

from __future__ import annotations

from celery import shared_task

from aftersales.imports.jobs import (
    CHECK_TASK,
    COMMIT_TASK,
    SWEEP_TASK,
    import_job_check,
    import_job_run,
    import_jobs_sweep,
)


@shared_task(name=CHECK_TASK, soft_time_limit=1800, time_limit=1900)
def import_check_task(job_id: int) -> str:
    """Read and check an uploaded spreadsheet (the preview); queued on commit by the upload and a new mapping."""
    job = import_job_check(job_id=job_id)
    return job.status if job else "gone"


@shared_task(name=COMMIT_TASK, soft_time_limit=1800, time_limit=1900)
def import_commit_task(job_id: int) -> str:
    """Commit a previewed spreadsheet import; queued on commit by ``import_job_queue``."""
    job = import_job_run(job_id=job_id)
    return job.status if job else "gone"


@shared_task(name=SWEEP_TASK)
def import_sweep_task() -> int:
    """Hand imports whose worker died back to a worker, or mark them failed after the last attempt (beat)."""
    return import_jobs_sweep()
