"""An import as the manager sees it: upload, map and preview, then commit in a worker with progress.

The commit runs in one transaction, so its progress cannot be written to the
job row (nobody would see it before the commit). It goes to the cache when
the cache is shared (Redis), else to a small file next to the upload, which
the page polls.
"""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from aftersales.models import ImportJob

from .commit import import_commit
from .mapping import FIELD_NAMES, guess_mapping
from .reading import ReadError, read_table
from .validation import Preview, preview_table

logger = logging.getLogger(__name__)

# A file with more problems than this is the wrong file; the list stops there.
MAX_STORED_ERRORS = 20_000
MAX_UPLOAD_BYTES = 100 * 1024 * 1024


def imports_dir() -> Path:
    path = Path(settings.VAR_DIR) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def import_job_create(*, filename: str, data: bytes, by) -> ImportJob:
    """Keep the upload and guess the mapping; raises ReadError when it is not a table."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise ReadError(f"The file is larger than {MAX_UPLOAD_BYTES // 1024 // 1024} MB; split it.")
    suffix = ".xlsx" if filename.lower().endswith(".xlsx") else ".csv"
    path = imports_dir() / f"{uuid.uuid4().hex}{suffix}"
    path.write_bytes(data)
    try:
        table = read_table(path)
    except ReadError:
        path.unlink(missing_ok=True)
        raise
    return ImportJob.objects.create(
        created_by=by,
        filename=Path(filename).name[:255],
        path=str(path),
        mapping=guess_mapping(table.header),
        total_rows=len(table.rows),
        summary={"header": table.header},
    )


def import_job_preview(*, job: ImportJob, mapping: dict[str, str]) -> Preview:
    """Check the whole file with this mapping and record the outcome on the job (nothing else is written)."""
    table = read_table(job.path)
    mapping = {name: column for name, column in mapping.items() if name in FIELD_NAMES and column in table.header}
    preview = preview_table(table, mapping)
    job.mapping = mapping
    job.total_rows = len(table.rows)
    job.errors = preview.errors[:MAX_STORED_ERRORS]
    job.summary = {"header": table.header, **preview.summary()}
    job.status = ImportJob.Status.INVALID if preview.errors else ImportJob.Status.READY
    job.save(update_fields=["mapping", "total_rows", "errors", "summary", "status"])
    return preview


def import_job_queue(*, job: ImportJob) -> bool:
    """Queue the commit of a previewed, clean file; False when it is not ready (or already queued)."""
    queued = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.READY).update(status=ImportJob.Status.QUEUED)
    if queued:
        from aftersales.tasks import import_commit_task

        transaction.on_commit(lambda: import_commit_task.delay(job.pk))
    return bool(queued)


def import_job_run(*, job_id: int) -> ImportJob:
    """Claim a queued job and commit it; the outcome (counts or the error) ends up on the job."""
    claimed = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.QUEUED).update(
        status=ImportJob.Status.RUNNING
    )
    job = ImportJob.objects.get(pk=job_id)
    if not claimed:
        return job

    def progress(stage: str, done: int, total: int) -> None:
        progress_set(job.pk, {"stage": stage, "done": done, "total": total})

    try:
        progress("checking", 0, job.total_rows)
        preview = preview_table(read_table(job.path), job.mapping)
        if preview.errors:
            # The file changed on disk since the preview: show the new problems, write nothing.
            job.errors, job.status = preview.errors[:MAX_STORED_ERRORS], ImportJob.Status.INVALID
        else:
            result = import_commit(preview=preview, by=job.created_by, progress=progress)
            job.summary = {**job.summary, "result": result}
            job.status = ImportJob.Status.DONE
            job.processed_rows = job.total_rows
            # Imported: the rows live in the database now; the upload need not pile up in VAR_DIR.
            Path(job.path).unlink(missing_ok=True)
    except Exception:  # nothing of the file was kept; the details go to the log, not to the page
        logger.exception("import %s failed", job.pk)
        job.status = ImportJob.Status.FAILED
        job.summary = {**job.summary, "failure": _("an unexpected error, logged for the administrator.")}
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "summary", "errors", "processed_rows", "finished_at"])
    progress_clear(job.pk)
    return job


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
