"""A spreadsheet import on its way in."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class ImportJob(models.Model):
    """One uploaded spreadsheet on its way in: mapping, preview errors, then a commit with progress.

    The file itself stays under VAR_DIR/imports/ (``path``) so the commit,
    which runs in a worker, reads exactly what the manager previewed; the
    retention prune deletes it IMPORT_KEEP_DAYS after the job finished or was
    left, and empties ``path`` (the row stays, with its outcome).
    """

    class Status(models.TextChoices):
        UPLOADED = "uploaded", _("Uploaded")
        INVALID = "invalid", _("Has errors")
        READY = "ready", _("Ready to import")
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Importing")
        DONE = "done", _("Imported")
        FAILED = "failed", _("Failed")

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    filename = models.CharField(max_length=255)
    path = models.CharField(max_length=500)
    mapping = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.UPLOADED)
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    summary = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            # Retention prune (aftersales/retention/services.py): jobs whose upload is still on disk.
            models.Index(fields=["created_at"], name="importjob_prune_idx", condition=~Q(path="")),
        ]

    def __str__(self) -> str:
        return f"{self.filename} ({self.status})"

    @property
    def percent(self) -> int:
        return int(100 * self.processed_rows / self.total_rows) if self.total_rows else 0
