"""An import as the manager sees it: upload; a worker reads and checks the file; correct the mapping; a worker
commits it. The page shows each worker step's progress.

The upload request only keeps the file and refuses one over the limits
(``check_file``: its size, an XLSX's unpacked sizes and declared rows), so it
returns at once; reading and checking every row (the preview) is the check
task's, and writing them the commit task's.

Each worker step holds a lease on the job row (aftersales/core/leasing.py),
renewed as it makes progress. A job whose worker died (killed, out of memory,
a lost machine) is found once the lease has run out, by the sweep (beat,
every minute) or by its own redelivered task, and handed to a worker again —
or, after ``IMPORT_MAX_ATTEMPTS`` claims, marked failed with the reason, and
the page offers to try again. A job waiting for a worker holds a lease too,
the time by which one should have taken it: if its task was lost (a broker
down at the upload), the sweep queues it again.

The commit runs in one transaction, so its progress cannot be written to the
job row (nobody would see it before the commit). It goes to the cache when
the cache is shared (Redis), else to a small file next to the upload, which
the page polls. The job's outcome is written in that same transaction, and
only while the lease is still this worker's: a worker whose lease ran out and
was taken over rolls its whole import back, so a file is never written twice.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext, ngettext

from aftersales.core.leasing import Lease, LeaseLost
from aftersales.core.queue import task_send_on_commit
from aftersales.imports.commit import import_commit
from aftersales.imports.mapping import FIELD_NAMES, guess_mapping
from aftersales.imports.models import CHECK_STEP, COMMIT_STEP, WORKING, ImportJob, ImportStatus
from aftersales.imports.reading import ReadError, Table, check_file, max_bytes, read_table, too_large_error
from aftersales.imports.validation import Preview, preview_table

logger = logging.getLogger(__name__)

# The Celery tasks of the import (aftersales/imports/tasks.py), queued by name.
CHECK_TASK = "aftersales.tasks.import_check_task"
COMMIT_TASK = "aftersales.tasks.import_commit_task"
SWEEP_TASK = "aftersales.tasks.import_sweep_task"

# A file with more problems than this is the wrong file; the list stops there.
MAX_STORED_ERRORS = 20_000
# How often the check reports its progress, in rows.
CHECK_PROGRESS_EVERY = 5000


def imports_dir() -> Path:
    path = Path(settings.VAR_DIR) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _lease_seconds() -> int:
    return settings.AFTERSALES["IMPORT_LEASE_SECONDS"]


def _waiting_lease(now: datetime | None = None) -> datetime:
    """For a job just queued: the time by which a worker should have taken it, else the sweep queues it again."""
    return (now or timezone.now()) + timedelta(seconds=_lease_seconds())


def _step(status: str) -> tuple[str, str]:
    return CHECK_STEP if status in CHECK_STEP else COMMIT_STEP


# --- What the manager does (in the request) ---------------------------------------------------


def import_job_create(*, filename: str, file: IO[bytes], by) -> ImportJob:
    """Keep the upload and queue its check; raises ReadError (before any job exists) when it is over the limits."""
    suffix = ".xlsx" if filename.lower().endswith(".xlsx") else ".csv"
    path = imports_dir() / f"{uuid.uuid4().hex}{suffix}"
    try:
        _save(file, path)
        check_file(path)
    except ReadError:
        path.unlink(missing_ok=True)
        raise
    job = ImportJob.objects.create(
        created_by=by,
        filename=Path(filename).name[:255],
        path=str(path),
        language=translation.get_language() or "",
        leased_until=_waiting_lease(),
    )
    task_send_on_commit(CHECK_TASK, args=[job.pk])
    return job


def _save(file: IO[bytes], path: Path) -> None:
    """Copy the upload to ``path``, stopping as soon as it is over the size limit."""
    limit = max_bytes()
    written = 0
    with path.open("wb") as out:
        while chunk := file.read(1024 * 1024):
            written += len(chunk)
            if written > limit:
                raise too_large_error()
            out.write(chunk)


def import_job_recheck(*, job: ImportJob, mapping: dict[str, str]) -> bool:
    """Queue a new check of a checked file with another mapping; False when it is not in a state to be checked."""
    header = job.summary.get("header", [])
    mapping = {name: column for name, column in mapping.items() if name in FIELD_NAMES and column in header}
    queued = ImportJob.objects.filter(pk=job.pk, status__in=[ImportStatus.INVALID, ImportStatus.READY]).update(
        status=ImportStatus.UPLOADED, mapping=mapping, attempts=0, leased_until=_waiting_lease(), last_error=""
    )
    if queued:
        task_send_on_commit(CHECK_TASK, args=[job.pk])
    return bool(queued)


def import_job_queue(*, job: ImportJob) -> bool:
    """Queue the commit of a previewed, clean file; False when it is not ready (or already queued)."""
    queued = ImportJob.objects.filter(pk=job.pk, status=ImportStatus.READY).update(
        status=ImportStatus.QUEUED, attempts=0, leased_until=_waiting_lease()
    )
    if queued:
        task_send_on_commit(COMMIT_TASK, args=[job.pk])
    return bool(queued)


def _queue_step(step: tuple[str, str], job_id: int) -> None:
    """Queue the task that does ``step`` (the check, or the commit) for the job, once the transaction commits."""
    if step == CHECK_STEP:
        task_send_on_commit(CHECK_TASK, args=[job_id])
    else:
        task_send_on_commit(COMMIT_TASK, args=[job_id])


def import_job_retry(*, job: ImportJob) -> bool:
    """Try a failed check or import again, from the start of that step; False when it has not failed."""
    waiting = ImportStatus.UPLOADED if job.status == ImportStatus.CHECK_FAILED else ImportStatus.QUEUED
    retried = ImportJob.objects.filter(
        pk=job.pk, status__in=[ImportStatus.CHECK_FAILED, ImportStatus.FAILED], status=job.status
    ).update(status=waiting, attempts=0, leased_until=_waiting_lease(), last_error="", finished_at=None)
    if retried:
        _queue_step(_step(waiting), job.pk)
    return bool(retried)


# --- What the workers do --------------------------------------------------------------------------


def _claim(job_id: int, step: tuple[str, str]) -> Lease | None:
    """Take a job waiting for ``step`` (or whose worker died in it, attempts left) for this worker."""
    now = timezone.now()
    until = now + timedelta(seconds=_lease_seconds())
    waiting, working = step
    rows = ImportJob.objects.filter(status__in=step).exclude(
        status=working, attempts__gte=settings.AFTERSALES["IMPORT_MAX_ATTEMPTS"]
    )
    if not rows.claim(job_id, lease_until=until, at=now, status=working):
        return None
    return Lease(ImportJob.objects.all(), job_id, until=until, seconds=_lease_seconds())


def _reporter(job: ImportJob, lease: Lease) -> Callable[[str, int, int], None]:
    """Show a step's progress on the page and renew the lease: progress is proof of life."""

    def progress(stage: str, done: int, total: int) -> None:
        progress_set(job.pk, {"stage": stage, "done": done, "total": total})
        lease.renew()

    return progress


class _ReportingRows(list):
    """A table's rows that report every CHECK_PROGRESS_EVERY rows as they are iterated.

    The preview (validation.py) checks the rows in one pass over ``table.rows``;
    iterating this list instead shows that pass on the page and renews the lease.
    """

    def __init__(self, rows: list, report: Callable[[int, int], None]) -> None:
        super().__init__(rows)
        self._report = report

    def __iter__(self):
        total = len(self)
        for done, row in enumerate(super().__iter__(), start=1):
            if done % CHECK_PROGRESS_EVERY == 0:
                self._report(done, total)
            yield row


def _checked(table: Table, mapping: dict[str, str], progress: Callable[[str, int, int], None]) -> Preview:
    progress("checking", 0, len(table.rows))
    rows = _ReportingRows(table.rows, lambda done, total: progress("checking", done, total))
    return preview_table(Table(table.header, rows), mapping)


def _read(job: ImportJob, progress: Callable[[str, int, int], None]) -> Table:
    progress("reading", 0, 0)
    return read_table(job.path, progress=lambda done, total: progress("reading", done, total))


def import_job_check(*, job_id: int) -> ImportJob | None:
    """Claim a job waiting for its check; read and check the whole file; record the preview on the job."""
    lease = _claim(job_id, CHECK_STEP)
    job = ImportJob.objects.filter(pk=job_id).first()
    if lease is None or job is None:
        if job is not None and _recover(job):  # a redelivered task whose job's worker died after its last attempt
            job.refresh_from_db()
        return job
    with translation.override(job.language or settings.LANGUAGE_CODE):
        outcome = _check(job, lease)
    if outcome is not None and not ImportJob.objects.record_done(job.pk, lease_until=lease.until, **outcome):
        logger.warning("import %s: the check's lease ran out and another worker took the job over", job.pk)
    progress_clear(job.pk)
    job.refresh_from_db()
    return job


def _check(job: ImportJob, lease: Lease) -> dict[str, Any] | None:
    """The check's outcome as changes to the job; None when the lease was lost (the new holder decides)."""
    progress = _reporter(job, lease)
    try:
        table = _read(job, progress)
        if job.summary.get("header"):  # checked before: the manager's mapping
            mapping = {name: column for name, column in job.mapping.items() if column in table.header}
        else:  # the first check: what the header suggests
            mapping = guess_mapping(table.header)
        preview = _checked(table, mapping, progress)
    except LeaseLost:
        return None
    except ReadError as exc:
        # Not a table, or over the limits: nothing to try again, and the file need not stay.
        Path(job.path).unlink(missing_ok=True)
        return {"status": ImportStatus.REFUSED, "last_error": str(exc), "finished_at": timezone.now()}
    except Exception as exc:  # recorded for the manager, who may try again
        logger.exception("import %s: the check failed", job.pk)
        return {"status": ImportStatus.CHECK_FAILED, "last_error": _failure(exc), "finished_at": timezone.now()}
    return {
        "status": ImportStatus.INVALID if preview.errors else ImportStatus.READY,
        "mapping": mapping,
        "total_rows": len(table.rows),
        "errors": preview.errors[:MAX_STORED_ERRORS],
        "summary": {"header": table.header, **preview.summary()},
        "last_error": "",
    }


def _failure(exc: Exception) -> str:
    """What the page says of an unexpected failure: nothing of its internals (the caller logged them)."""
    return gettext("an unexpected error, logged for the administrator.")


def import_job_run(*, job_id: int) -> ImportJob | None:
    """Claim a job queued for its commit and commit it; the outcome (counts or the error) ends up on the job."""
    lease = _claim(job_id, COMMIT_STEP)
    job = ImportJob.objects.filter(pk=job_id).first()
    if lease is None or job is None:
        if job is not None and _recover(job):  # a redelivered task whose job's worker died after its last attempt
            job.refresh_from_db()
        return job
    with translation.override(job.language or settings.LANGUAGE_CODE):
        _commit(job, lease)
    progress_clear(job.pk)
    job.refresh_from_db()
    return job


def _commit(job: ImportJob, lease: Lease) -> None:
    progress = _reporter(job, lease)
    try:
        preview = _checked(_read(job, progress), job.mapping, progress)
        if preview.errors:
            # The file changed on disk since the preview: show the new problems, write nothing.
            outcome = {"status": ImportStatus.INVALID, "errors": preview.errors[:MAX_STORED_ERRORS]}
            ImportJob.objects.record_done(job.pk, lease_until=lease.until, finished_at=timezone.now(), **outcome)
            return
        with transaction.atomic():
            result = import_commit(preview=preview, by=job.created_by, progress=progress)
            # The outcome commits with the rows, and only while the lease is ours: if it ran out and another
            # worker took the job over, everything here rolls back and that worker's import is the one kept.
            done = ImportJob.objects.record_done(
                job.pk,
                lease_until=lease.until,
                status=ImportStatus.DONE,
                summary={**job.summary, "result": result},
                processed_rows=F("total_rows"),
                finished_at=timezone.now(),
                last_error="",
            )
            if not done:
                raise LeaseLost(f"import {job.pk}: the lease ran out before the commit")
    except LeaseLost:
        logger.warning("import %s: the lease ran out and another worker took the job over; rolled back", job.pk)
        return
    except Exception as exc:  # recorded for the manager; nothing of the file was kept
        logger.exception("import %s failed", job.pk)
        ImportJob.objects.record_done(
            job.pk,
            lease_until=lease.until,
            status=ImportStatus.FAILED,
            last_error=_failure(exc),
            finished_at=timezone.now(),
        )
        return
    # Imported: the rows live in the database now; the upload need not pile up in VAR_DIR.
    Path(job.path).unlink(missing_ok=True)


# --- Jobs whose worker died ---------------------------------------------------------------------


def import_jobs_sweep(*, limit: int = 100) -> int:
    """Hand each job whose lease ran out back to a worker, or give up on it after its last attempt; return how many."""
    now = timezone.now()
    stale = ImportJob.objects.expired(at=now).order_by("leased_until")[:limit]  # served by importjob_lease_idx
    return sum(1 for job in stale if _recover(job, now=now))


def _recover(job: ImportJob | None, *, now: datetime | None = None) -> bool:
    """A job whose lease ran out: queue its step again, or mark it failed after the last attempt allowed."""
    now = now or timezone.now()
    if job is None or not job.in_progress or job.leased_until is None or job.leased_until >= now:
        return False
    step = _step(job.status)
    if job.status in WORKING and job.attempts >= settings.AFTERSALES["IMPORT_MAX_ATTEMPTS"]:
        with translation.override(job.language or settings.LANGUAGE_CODE):
            reason = _worker_died(job)
        gave_up = ImportJob.objects.give_up(job.pk, lease_until=job.leased_until, error=reason)
        if gave_up:
            logger.error("import %s: giving up after %s attempts whose worker died", job.pk, job.attempts)
        return gave_up
    # Conditional on the lease we saw: a sweep and a redelivered task racing here queue it once.
    requeued = ImportJob.objects.held(job.pk, job.leased_until).update(status=step[0], leased_until=_waiting_lease(now))
    if requeued:
        logger.warning("import %s: its worker stopped (%s, attempt %s); queued again", job.pk, job.status, job.attempts)
        _queue_step(step, job.pk)
    return bool(requeued)


def _worker_died(job: ImportJob) -> str:
    if job.status == ImportStatus.CHECKING:
        message = ngettext(
            "The worker checking this file stopped before it finished (%(count)s time): it may have run out of "
            "memory or been restarted. Try again, or split the file.",
            "The worker checking this file stopped before it finished (%(count)s times): it may have run out of "
            "memory or been restarted. Try again, or split the file.",
            job.attempts,
        )
    else:
        message = ngettext(
            "The worker importing this file stopped before it finished (%(count)s time): it may have run out of "
            "memory or been restarted. Nothing was saved. Try again, or split the file.",
            "The worker importing this file stopped before it finished (%(count)s times): it may have run out of "
            "memory or been restarted. Nothing was saved. Try again, or split the file.",
            job.attempts,
        )
    return message % {"count": job.attempts}


# --- Progress -------------------------------------------------------------------------------


def _shared_cache() -> bool:
    return "locmem" not in settings.CACHES["default"]["BACKEND"].lower()


def _progress_file(job_id: int) -> Path:
    return imports_dir() / f"job-{job_id}.progress.json"


def progress_set(job_id: int, state: dict) -> None:
    if _shared_cache():
        cache.set(f"import-progress:{job_id}", state, timeout=3600)
    else:
        _progress_file(job_id).write_text(json.dumps(state))


def progress_get(job_id: int) -> dict | None:
    if _shared_cache():
        return cache.get(f"import-progress:{job_id}")
    try:
        return json.loads(_progress_file(job_id).read_text())
    except (FileNotFoundError, ValueError):
        return None


def progress_clear(job_id: int) -> None:
    if _shared_cache():
        cache.delete(f"import-progress:{job_id}")
    else:
        _progress_file(job_id).unlink(missing_ok=True)
