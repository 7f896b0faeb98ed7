"""Retention: the hourly prune deletes what is old and done, keeps what is pending or recent, in bounded batches,
and never touches the audit trail. ``manage.py prune`` and the beat task run the same service."""

from __future__ import annotations

import datetime as dt
import os
from contextlib import contextmanager
from pathlib import Path

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from aftersales.api.models import IdempotentRequest
from aftersales.audit.models import AuditEvent
from aftersales.celery import app as celery_app
from aftersales.imports.models import ImportJob
from aftersales.mail.models import MailboxMessage, OutboxEmail
from aftersales.retention.services import import_jobs_due, prunable_rows, retention_prune
from aftersales.retention.tasks import PRUNE_TASK, prune_task
from aftersales.webhooks.models import Webhook, WebhookDelivery, WebhookEvent
from tests.factories import OutboxEmailFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


@pytest.fixture(autouse=True)
def frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield NOW


@contextmanager
def at(moment: dt.datetime):
    """Rows written here get ``moment`` from auto_now_add and default=timezone.now."""
    with time_machine.travel(moment, tick=False):
        yield


def _email(*, created: dt.datetime, **fields) -> OutboxEmail:
    with at(created):
        return OutboxEmailFactory(**fields)


def _delivery(hook: Webhook, *, created: dt.datetime, **fields) -> WebhookDelivery:
    with at(created):
        return WebhookDelivery.objects.create(webhook=hook, event=WebhookEvent.CUSTOMER_FLAGGED, payload={}, **fields)


def _remaining(model) -> set[int]:
    return set(model.objects.values_list("pk", flat=True))


# --- Mail ---------------------------------------------------------------------------------------


def test_old_sent_and_failed_mail_goes_pending_and_recent_mail_stays():
    old = NOW - 91 * DAY
    sent_old = _email(created=old, sent_at=old)
    failed_old = _email(created=old - DAY, failed_at=old, last_error="550")
    sent_recent = _email(created=old, sent_at=NOW - 89 * DAY)  # created long ago, sent within the 90 days
    pending_old = _email(created=old, attempts=3)  # still being retried: never pruned, whatever its age
    pending_new = _email(created=NOW)

    pruned = retention_prune()

    assert pruned.emails == 2
    assert _remaining(OutboxEmail) == {sent_recent.pk, pending_old.pk, pending_new.pk}
    assert sent_old.pk not in _remaining(OutboxEmail) and failed_old.pk not in _remaining(OutboxEmail)


def test_the_dev_mailbox_is_pruned_after_the_same_time():
    old = MailboxMessage.objects.create(to="a@example.com", subject="Old", raw="x", received_at=NOW - 91 * DAY)
    recent = MailboxMessage.objects.create(to="a@example.com", subject="New", raw="x", received_at=NOW - 89 * DAY)

    assert retention_prune().mailbox_messages == 1
    assert _remaining(MailboxMessage) == {recent.pk}
    assert old.pk not in _remaining(MailboxMessage)


def test_the_keeping_time_comes_from_the_settings(settings):
    settings.AFTERSALES = {**settings.AFTERSALES, "OUTBOX_KEEP_DAYS": 7}
    week_old = _email(created=NOW - 8 * DAY, sent_at=NOW - 8 * DAY)
    fresh = _email(created=NOW - 6 * DAY, sent_at=NOW - 6 * DAY)

    retention_prune()

    assert _remaining(OutboxEmail) == {fresh.pk}
    assert week_old.pk not in _remaining(OutboxEmail)


# --- Webhook deliveries -------------------------------------------------------------------------


def test_old_delivered_and_failed_webhook_deliveries_go_pending_ones_stay():
    hook = Webhook.objects.create(url="https://erp.example.com/h", events=[WebhookEvent.CUSTOMER_FLAGGED])
    old = NOW - 91 * DAY
    delivered = _delivery(hook, created=old, delivered_at=old, last_status=200)
    failed = _delivery(hook, created=old, failed_at=old, last_error="HTTP 500")
    recent = _delivery(hook, created=old, delivered_at=NOW - DAY)
    pending = _delivery(hook, created=old, attempts=7)

    assert retention_prune().webhook_deliveries == 2
    assert _remaining(WebhookDelivery) == {recent.pk, pending.pk}
    assert not {delivered.pk, failed.pk} & _remaining(WebhookDelivery)
    assert Webhook.objects.filter(pk=hook.pk).exists()


# --- Idempotency keys ---------------------------------------------------------------------------


def test_idempotency_keys_are_kept_48_hours(alice):
    def key(name: str, age: dt.timedelta) -> IdempotentRequest:
        with at(NOW - age):
            return IdempotentRequest.objects.create(user=alice, key=name, fingerprint="f", status_code=201, body={})

    expired = key("a", dt.timedelta(hours=49))
    kept = key("b", dt.timedelta(hours=47))

    assert retention_prune().idempotency_keys == 1
    assert _remaining(IdempotentRequest) == {kept.pk}
    assert expired.pk not in _remaining(IdempotentRequest)


# --- The audit trail ----------------------------------------------------------------------------


def test_audit_events_are_never_pruned(alice):
    ancient = AuditEvent.objects.create(
        actor=alice, action="changed", object_type="customers.customer", object_id=1, created_at=NOW - 3650 * DAY
    )
    _email(created=NOW - 400 * DAY, sent_at=NOW - 400 * DAY)

    retention_prune()

    assert _remaining(AuditEvent) == {ancient.pk}


# --- Bounded batches ----------------------------------------------------------------------------


def test_a_run_deletes_in_bounded_batches_oldest_first_and_the_next_run_goes_on():
    emails = [_email(created=NOW - (200 - n) * DAY, sent_at=NOW - (200 - n) * DAY) for n in range(5)]

    with CaptureQueriesContext(connection) as queries:
        first = retention_prune(batch_size=2, max_batches=2)

    deletes = [
        q["sql"] for q in queries.captured_queries if q["sql"].startswith('DELETE FROM "aftersales_outboxemail"')
    ]
    assert len(deletes) == 2, "one DELETE per batch, no more batches than allowed"
    assert first.emails == 4
    assert _remaining(OutboxEmail) == {emails[-1].pk}, "the oldest go first"

    assert retention_prune(batch_size=2, max_batches=2).emails == 1
    assert not OutboxEmail.objects.exists()


def test_a_short_batch_ends_the_run_for_that_table():
    _email(created=NOW - 100 * DAY, sent_at=NOW - 100 * DAY)

    with CaptureQueriesContext(connection) as queries:
        retention_prune(batch_size=10, max_batches=5)

    outbox = [q["sql"] for q in queries.captured_queries if '"aftersales_outboxemail"' in q["sql"]]
    assert len(outbox) == 2, outbox  # one read of the batch's keys, one DELETE


PRUNE_INDEXES = {
    "emails": "outbox_done_idx",
    "mailbox_messages": "aftersales_mailboxmessage_received_at",
    "webhook_deliveries": "webhookdelivery_done_idx",
    "idempotency_keys": "idempotentrequest_prune_idx",
}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the plans of PostgreSQL")
@pytest.mark.parametrize("kind", [*PRUNE_INDEXES, "import_jobs"])
def test_each_prune_reads_its_index_not_the_whole_table(kind):
    """The queries the prune runs can be served by their indexes (the planner is kept off sequential scans)."""
    if kind == "import_jobs":
        queryset, index = import_jobs_due(cutoff=NOW), "importjob_prune_idx"
    else:
        queryset, index = prunable_rows(now=NOW)[kind], PRUNE_INDEXES[kind]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
    plan = queryset.values_list("pk", flat=True)[:1000].explain()

    assert index in plan and "Seq Scan" not in plan, plan
    assert "Sort" not in plan or kind == "import_jobs", "read in index order, stopping after the batch"


def test_every_kind_the_prune_deletes_has_its_index_named_here():
    assert set(prunable_rows(now=NOW)) == set(PRUNE_INDEXES)


# --- Import files -------------------------------------------------------------------------------


@pytest.fixture
def imports(settings, tmp_path) -> Path:
    settings.VAR_DIR = tmp_path
    folder = tmp_path / "imports"
    folder.mkdir()
    return folder


def _upload(folder: Path, name: str, *, modified: dt.datetime) -> Path:
    path = folder / name
    path.write_text("name,email\nAna,ana@example.com\n")
    os.utime(path, (modified.timestamp(), modified.timestamp()))
    return path


def _job(by, path: Path, *, created: dt.datetime, status: str, finished: dt.datetime | None = None) -> ImportJob:
    with at(created):
        job = ImportJob.objects.create(created_by=by, filename="sales.csv", path=str(path), status=status)
    ImportJob.objects.filter(pk=job.pk).update(finished_at=finished)
    return job


def test_an_old_finished_jobs_upload_is_deleted_and_the_job_kept(mary, imports):
    old = NOW - 31 * DAY
    failed = _job(mary, _upload(imports, "a.csv", modified=old), created=old, status="failed", finished=old)
    recent = _job(mary, _upload(imports, "b.csv", modified=old), created=old, status="failed", finished=NOW - 29 * DAY)

    assert retention_prune().import_files == 1

    failed.refresh_from_db()
    assert (failed.path, failed.status) == ("", "failed")
    assert not (imports / "a.csv").exists()
    assert (imports / "b.csv").exists() and ImportJob.objects.get(pk=recent.pk).path == str(imports / "b.csv")


def test_an_upload_never_imported_goes_after_30_days_and_its_job_says_why(mary, imports, client):
    left = _job(mary, _upload(imports, "left.csv", modified=NOW - 31 * DAY), created=NOW - 31 * DAY, status="ready")
    young = _job(mary, _upload(imports, "young.csv", modified=NOW - 29 * DAY), created=NOW - 29 * DAY, status="ready")

    retention_prune()

    left.refresh_from_db()
    assert (left.path, left.status, left.finished_at) == ("", ImportJob.Status.FAILED, NOW)
    assert "deleted 30 days after the upload" in left.summary["failure"]
    assert not (imports / "left.csv").exists()
    assert ImportJob.objects.get(pk=young.pk).status == "ready" and (imports / "young.csv").exists()
    client.force_login(mary)
    page = client.get(reverse("customers:import_detail", args=[left.pk]))
    assert page.status_code == 200 and "upload it again" in page.content.decode()
    refused = client.post(reverse("customers:import_commit", args=[left.pk]))
    assert refused.status_code == 302
    assert ImportJob.objects.get(pk=left.pk).status == ImportJob.Status.FAILED


def test_an_imported_jobs_upload_already_gone_only_empties_its_path(mary, imports):
    done = _job(mary, imports / "gone.csv", created=NOW - 40 * DAY, status="done", finished=NOW - 40 * DAY)

    assert retention_prune().import_files == 0

    assert ImportJob.objects.get(pk=done.pk).path == ""


def test_old_files_no_job_points_at_are_deleted_recent_ones_kept(mary, imports):
    _upload(imports, "orphan.csv", modified=NOW - 31 * DAY)
    _upload(imports, "job-7.progress.json", modified=NOW - 31 * DAY)
    _upload(imports, "just-uploaded.csv", modified=NOW - dt.timedelta(minutes=1))
    in_use = _upload(imports, "in-use.csv", modified=NOW - 31 * DAY)
    _job(mary, in_use, created=NOW - DAY, status="ready")

    assert retention_prune().import_files == 2

    assert sorted(path.name for path in imports.iterdir()) == ["in-use.csv", "just-uploaded.csv"]


def test_a_job_pointing_outside_the_imports_folder_never_deletes_that_file(mary, imports, tmp_path):
    elsewhere = _upload(tmp_path, "elsewhere.csv", modified=NOW - 60 * DAY)
    job = _job(mary, elsewhere, created=NOW - 60 * DAY, status="done", finished=NOW - 60 * DAY)

    retention_prune()

    assert elsewhere.exists()
    assert ImportJob.objects.get(pk=job.pk).path == ""


# --- The command, the task and beat -------------------------------------------------------------


def _old_things(alice) -> None:
    _email(created=NOW - 100 * DAY, sent_at=NOW - 100 * DAY)
    with at(NOW - 3 * DAY):
        IdempotentRequest.objects.create(user=alice, key=f"k{IdempotentRequest.objects.count()}", fingerprint="f",
                                         status_code=201, body={})  # fmt: skip


def test_the_command_and_the_task_run_the_same_prune(alice, capsys, imports):
    _old_things(alice)
    call_command("prune")
    _old_things(alice)
    result = prune_task.apply().get()

    expected = "1 email(s), 0 dev mailbox message(s), 0 webhook delivery(ies), 1 idempotency key(s), 0 import file(s)"
    assert capsys.readouterr().out.strip() == f"Pruned {expected}."
    assert result == expected
    assert not OutboxEmail.objects.exists() and not IdempotentRequest.objects.exists()


def test_the_command_takes_the_batch_bounds(capsys):
    for n in range(3):
        _email(created=NOW - (100 + n) * DAY, sent_at=NOW - (100 + n) * DAY)

    call_command("prune", "--batch-size", "1", "--max-batches", "2")

    assert OutboxEmail.objects.count() == 1
    with pytest.raises(CommandError):
        call_command("prune", "--batch-size", "0")


def test_beat_runs_the_prune_and_a_worker_knows_the_task():
    celery_app.loader.import_default_modules()

    assert PRUNE_TASK in {entry["task"] for entry in celery_app.conf.beat_schedule.values()}
    assert PRUNE_TASK in celery_app.tasks
