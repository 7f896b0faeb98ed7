"""A spreadsheet import on its way in."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Case, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from aftersales.core.leasing import LeasedQuerySet


class ImportStatus(models.TextChoices):
    UPLOADED = "uploaded", _("Uploaded")
    CHECKING = "checking", _("Checking")
    CHECK_FAILED = "check_failed", _("Check failed")
    REFUSED = "refused", _("Refused")
    INVALID = "invalid", _("Has errors")
    READY = "ready", _("Ready to import")
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Importing")
    DONE = "done", _("Imported")
    FAILED = "failed", _("Failed")


# A worker's two steps, each as (waiting for a worker, held by one) and where it ends if the workers keep dying.
CHECK_STEP = (ImportStatus.UPLOADED, ImportStatus.CHECKING)
COMMIT_STEP = (ImportStatus.QUEUED, ImportStatus.RUNNING)
WAITING = (ImportStatus.UPLOADED, ImportStatus.QUEUED)
WORKING = (ImportStatus.CHECKING, ImportStatus.RUNNING)


class ImportJobQuerySet(LeasedQuerySet):
    """Jobs waiting for or held by a worker, with the lease rules of aftersales/core/leasing.py.

    While a job waits, ``leased_until`` is the time by which a worker should
    have taken it (else its task was lost, and the sweep queues it again);
    while a worker holds it, that worker's lease.
    """

    done_field = "finished_at"
    due_field = None

    def pending(self) -> ImportJobQuerySet:
        return self.filter(status__in=[*WAITING, *WORKING])

    def deliverable(self, at: datetime | None = None) -> ImportJobQuerySet:
        """Waiting for a worker, or held by one that died (its lease ran out)."""
        return self.filter(Q(status__in=WAITING) | Q(status__in=WORKING, leased_until__lt=at or timezone.now()))

    def held(self, pk: int, lease_until: datetime) -> ImportJobQuerySet:
        return self.pending().filter(pk=pk, leased_until=lease_until)

    def done_changes(self, at: datetime) -> dict[str, Any]:
        # The step's outcome (a status, the preview, the counts) comes from the caller.
        return {"leased_until": None}

    def given_up_changes(self, at: datetime, error: str) -> dict[str, Any]:
        failed = Case(
            When(status__in=CHECK_STEP, then=Value(ImportStatus.CHECK_FAILED)), default=Value(ImportStatus.FAILED)
        )
        return {"status": failed, "finished_at": at, "leased_until": None, "last_error": error}


class ImportJob(models.Model):
    """One uploaded spreadsheet on its way in: checked by a worker (mapping, preview), then committed by one.

    The file itself stays under VAR_DIR/imports/ (``path``) so the commit,
    which runs in a worker, reads exactly what the manager previewed; the
    retention prune deletes it IMPORT_KEEP_DAYS after the job finished or was
    left, and empties ``path`` (the row stays, with its outcome).
    """

    Status = ImportStatus

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    filename = models.CharField(max_length=255)
    path = models.CharField(max_length=500)
    # The manager's language at upload: what the worker writes for them (a refusal, a failure) is in it.
    language = models.CharField(max_length=8, blank=True)
    mapping = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.UPLOADED)
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    summary = models.JSONField(default=dict, blank=True)
    # The lease (aftersales/core/leasing.py): see ImportJobQuerySet. ``attempts`` counts the claims of the current step.
    leased_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Why the file was refused, or why the check or the import failed.
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = ImportJobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            # Retention prune (aftersales/retention/services.py): jobs whose upload is still on disk.
            models.Index(fields=["created_at"], name="importjob_prune_idx", condition=~Q(path="")),
            # Import sweep (aftersales/imports/jobs.py, import_jobs_sweep): jobs waiting for or held by a worker.
            models.Index(
                fields=["leased_until"],
                name="importjob_lease_idx",
                condition=Q(status__in=["uploaded", "checking", "queued", "running"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.filename} ({self.status})"

    @property
    def percent(self) -> int:
        return int(100 * self.processed_rows / self.total_rows) if self.total_rows else 0

    @property
    def in_progress(self) -> bool:
        """Waiting for a worker or held by one: the page polls."""
        return self.status in (*WAITING, *WORKING)

    @property
    def failure(self) -> str:
        """Why it was refused or failed (jobs from before ``last_error`` kept it in the summary)."""
        return self.last_error or self.summary.get("failure", "")
