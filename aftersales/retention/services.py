"""Retention: nothing grows for ever. A periodic job deletes what is only kept for a while, as healthchecks prunes
its pings.

* sent and failed mail, and the dev mailbox's copies, after ``OUTBOX_KEEP_DAYS``;
* delivered and failed webhook deliveries after ``WEBHOOK_KEEP_DAYS``;
* API idempotency keys after ``IDEMPOTENCY_KEEP_HOURS`` (a client retries within minutes; after that the
  same key is a new request);
* import uploads ``IMPORT_KEEP_DAYS`` after their job finished or was left unimported: the file goes, the job
  row stays with its outcome. Files in the imports folder that no job points at go after the same time.

Pending mail and deliveries are never touched, whatever their age: they are still to be sent. Audit events
and consent events are evidence and are never pruned.

Each table is pruned in batches: up to ``batch_size`` primary keys read on the table's prune index, oldest
first, then one DELETE of those keys that repeats the condition, so a row that changed in between (a mail
given up on and sent again) is left alone. A run stops after ``max_batches`` batches per table, well inside
the task's time limit; a backlog (the first run on an old database) drains over the following runs.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import astuple, dataclass
from pathlib import Path

from django.conf import settings
from django.db.models import Model, Q, QuerySet
from django.utils import timezone

from aftersales.api.models import IdempotentRequest
from aftersales.imports.jobs import imports_dir
from aftersales.imports.models import ImportJob
from aftersales.mail.models import MailboxMessage, OutboxEmail
from aftersales.webhooks.models import WebhookDelivery

logger = logging.getLogger(__name__)

BATCH_SIZE = 1000
MAX_BATCHES = 100
# Written on an import that was uploaded and never imported, when its file goes.
IMPORT_ABANDONED = "The uploaded file was deleted {days} days after the upload without an import; upload it again."


@dataclass
class Pruned:
    """What one run deleted."""

    emails: int = 0
    mailbox_messages: int = 0
    webhook_deliveries: int = 0
    idempotency_keys: int = 0
    import_files: int = 0

    def __str__(self) -> str:
        return (
            f"{self.emails} email(s), {self.mailbox_messages} dev mailbox message(s), "
            f"{self.webhook_deliveries} webhook delivery(ies), {self.idempotency_keys} idempotency key(s), "
            f"{self.import_files} import file(s)"
        )

    @property
    def total(self) -> int:
        return sum(astuple(self))


def retention_prune(*, batch_size: int = BATCH_SIZE, max_batches: int = MAX_BATCHES) -> Pruned:
    """Delete what is past its keeping time; at most ``batch_size * max_batches`` rows (or files) per kind."""
    now = timezone.now()
    deleted = {
        kind: _delete_in_batches(queryset, batch_size=batch_size, max_batches=max_batches)
        for kind, queryset in prunable_rows(now=now).items()
    }
    files = _prune_import_files(now=now, days=settings.AFTERSALES["IMPORT_KEEP_DAYS"], limit=batch_size * max_batches)
    pruned = Pruned(**deleted, import_files=files)
    if pruned.total:
        logger.info("retention: pruned %s", pruned)
    return pruned


def prunable_rows(*, now: dt.datetime) -> dict[str, QuerySet[Model]]:
    """The rows past their keeping time, per kind, each ordered along the index that serves it."""
    keep = settings.AFTERSALES
    mail_cutoff = now - dt.timedelta(days=keep["OUTBOX_KEEP_DAYS"])
    return {
        "emails": OutboxEmail.objects.done_before(mail_cutoff),  # outbox_done_idx
        "mailbox_messages": MailboxMessage.objects.filter(received_at__lt=mail_cutoff).order_by("received_at"),
        "webhook_deliveries": WebhookDelivery.objects.done_before(  # webhookdelivery_done_idx
            now - dt.timedelta(days=keep["WEBHOOK_KEEP_DAYS"])
        ),
        "idempotency_keys": IdempotentRequest.objects.filter(  # idempotentrequest_prune_idx
            created_at__lt=now - dt.timedelta(hours=keep["IDEMPOTENCY_KEEP_HOURS"])
        ).order_by("created_at"),
    }


def _delete_in_batches(queryset: QuerySet[Model], *, batch_size: int, max_batches: int) -> int:
    """Delete the rows of ``queryset`` (ordered along its index) by primary key, ``batch_size`` at a time."""
    deleted = 0
    for _ in range(max_batches):
        ids = list(queryset.values_list("pk", flat=True)[:batch_size])
        if not ids:
            break
        # The same condition again: a row that stopped matching since the read stays.
        count, _ = queryset.order_by().filter(pk__in=ids).delete()
        deleted += count
        if len(ids) < batch_size:
            break
    return deleted


# --- Import uploads ---------------------------------------------------------------------------


def _prune_import_files(*, now: dt.datetime, days: int, limit: int) -> int:
    """Delete the uploads of jobs finished or left before the cutoff, then files no job points at."""
    cutoff = now - dt.timedelta(days=days)
    folder = imports_dir()
    removed = 0
    # An unfinished job this old was never imported (an import takes minutes, and its task is killed
    # after CELERY_TASK_TIME_LIMIT): left after the upload or the preview, or lost with its worker.
    jobs = import_jobs_due(cutoff=cutoff).only("pk", "path", "status", "summary", "finished_at")[:limit]
    for job in jobs:
        # Claim the job by its path (and, if unfinished, its status) before touching the file: a manager
        # who queues the import at this moment either wins (the file stays for the import) or finds the
        # job closed. An emptied path is also how the next run knows this one is done.
        if job.finished_at is None:
            summary = {**job.summary, "failure": IMPORT_ABANDONED.format(days=days)}
            claimed = ImportJob.objects.filter(pk=job.pk, path=job.path, status=job.status).update(
                path="", status=ImportJob.Status.FAILED, finished_at=now, summary=summary
            )
        else:
            claimed = ImportJob.objects.filter(pk=job.pk, path=job.path).update(path="")
        if claimed and _unlink_in(folder, Path(job.path)):
            removed += 1
    return removed + _prune_orphan_files(folder, cutoff=cutoff, limit=limit)


def import_jobs_due(*, cutoff: dt.datetime) -> QuerySet[ImportJob]:
    """Jobs whose upload is still on disk and that finished, or were started and left, before ``cutoff``."""
    return (
        ImportJob.objects.exclude(path="")  # importjob_prune_idx
        .filter(created_at__lt=cutoff)
        .filter(Q(finished_at__isnull=True) | Q(finished_at__lt=cutoff))
        .order_by("created_at", "pk")
    )


def _prune_orphan_files(folder: Path, *, cutoff: dt.datetime, limit: int) -> int:
    """Files no job points at, untouched since the cutoff: a job deleted in the admin, a stale progress file.

    Upload names are random, so a job is matched by its file's name (whatever VAR_DIR was then). The age
    check keeps a file just written by an upload whose job row is not committed yet.
    """
    in_use = {Path(path).name for path in ImportJob.objects.exclude(path="").values_list("path", flat=True)}
    removed = 0
    with os.scandir(folder) as entries:
        for entry in entries:
            if removed >= limit:
                break
            if entry.name in in_use or not entry.is_file(follow_symlinks=False):
                continue
            if entry.stat(follow_symlinks=False).st_mtime < cutoff.timestamp() and _unlink_in(folder, Path(entry.path)):
                removed += 1
    return removed


def _unlink_in(folder: Path, path: Path) -> bool:
    """Delete ``path`` if it is a file directly in ``folder``; True when this call deleted it."""
    if path.parent.resolve() != folder.resolve():
        return False  # never delete outside VAR_DIR/imports, whatever a row says
    try:
        path.unlink()
    except FileNotFoundError:  # an imported job's upload was deleted right after its import
        return False
    return True
