"""No import stuck by a crash: a job carries a lease; once a dead worker's lease runs out the job is queued
again, or after its last attempt marked failed with the reason, and the page offers to try again.
(The same with real worker processes and a real SIGKILL: test_import_worker.py.)"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from aftersales.celery import app as celery_app
from aftersales.imports import jobs
from aftersales.imports.jobs import COMMIT_TASK, import_jobs_sweep
from aftersales.imports.models import CHECK_STEP, COMMIT_STEP, ImportJob
from aftersales.imports.tasks import import_check_task, import_commit_task
from customers.models import Customer, Purchase
from tests.factories import CheckupPlanFactory, PlanStepFactory, ProductFactory

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
LEASE = dt.timedelta(seconds=120)  # IMPORT_LEASE_SECONDS' default
CSV = (
    "\ufeffCustomer ID;Customer name;Order number;SKU;Order date;Total\r\n"
    + "".join(f"C{n};Customer {n};O{n};BOILER-1;2026-03-01;10\r\n" for n in range(30))
).encode()


@pytest.fixture(autouse=True)
def _setup(settings, tmp_path, db):
    settings.VAR_DIR = tmp_path
    settings.AFTERSALES = {**settings.AFTERSALES, "IMPORT_MAX_ATTEMPTS": 3}
    plan = CheckupPlanFactory()
    PlanStepFactory(plan=plan, position=1, offset_days=3)
    ProductFactory(sku="BOILER-1", default_plan=plan)


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def eager(monkeypatch):
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)


@pytest.fixture
def ready_job(mary_client, eager, clock, django_capture_on_commit_callbacks) -> ImportJob:
    """A clean file, checked by a worker (here in-process): ready to import."""
    with django_capture_on_commit_callbacks(execute=True):
        mary_client.post(reverse("customers:import_upload"), {"file": SimpleUploadedFile("sales.csv", CSV)})
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.READY
    return job


def _queued(job: ImportJob, django_capture_on_commit_callbacks) -> ImportJob:
    """The manager clicks Import; the task is left on the broker (not run)."""
    with django_capture_on_commit_callbacks():
        assert jobs.import_job_queue(job=job)
    job.refresh_from_db()
    return job


def _dies(job_id: int, step=COMMIT_STEP) -> None:
    """A worker takes the job, then dies (SIGKILL, out of memory) before recording anything."""
    assert jobs._claim(job_id, step) is not None


def test_a_dead_workers_job_waits_for_its_lease_then_is_queued_again_and_imported_once(
    ready_job, clock, mary_client, django_capture_on_commit_callbacks
):
    job = _queued(ready_job, django_capture_on_commit_callbacks)
    _dies(job.pk)

    clock.shift(LEASE - dt.timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True) as queued:
        assert import_jobs_sweep() == 0  # the lease still holds: the worker may just be slow
        assert import_commit_task(job.pk) == ImportJob.Status.RUNNING  # a second delivery of the task: hands off
    assert queued == [] and not Customer.objects.exists()
    page = mary_client.get(reverse("customers:import_detail", args=[job.pk])).content.decode()
    assert "Importing" in page and 'hx-trigger="every 1s"' in page

    clock.shift(dt.timedelta(seconds=2))
    with django_capture_on_commit_callbacks(execute=True) as queued:
        assert import_jobs_sweep() == 1  # beat's sweep: queued again, and (eager here) imported at once
    assert len(queued) == 1

    job.refresh_from_db()
    assert (job.status, job.attempts, job.leased_until) == (ImportJob.Status.DONE, 2, None)
    assert job.summary["result"]["new_purchases"] == 30
    assert Customer.objects.count() == Purchase.objects.count() == 30
    with django_capture_on_commit_callbacks(execute=True) as queued:
        assert import_jobs_sweep() == 0
    assert queued == []


def test_the_redelivered_task_takes_the_job_over_once_the_lease_has_run_out(
    ready_job, clock, django_capture_on_commit_callbacks
):
    job = _queued(ready_job, django_capture_on_commit_callbacks)
    _dies(job.pk)
    clock.shift(LEASE + dt.timedelta(seconds=1))

    # The broker hands the unacknowledged task to another worker (Redis: after its visibility timeout).
    assert import_commit_task(job.pk) == ImportJob.Status.DONE

    job.refresh_from_db()
    assert job.attempts == 2
    assert Purchase.objects.count() == 30


def test_after_its_last_attempt_the_job_fails_with_the_reason_and_the_manager_can_try_again(
    ready_job, clock, mary_client, django_capture_on_commit_callbacks
):
    job = _queued(ready_job, django_capture_on_commit_callbacks)
    for _ in range(3):  # three workers in a row die on it (each takes it over from the one before)
        _dies(job.pk)
        clock.shift(LEASE + dt.timedelta(seconds=1))
    assert not jobs._claim(job.pk, COMMIT_STEP), "no fourth attempt"

    with django_capture_on_commit_callbacks(execute=True) as queued:
        assert import_jobs_sweep() == 1
    assert queued == []
    job.refresh_from_db()
    assert (job.status, job.attempts, job.leased_until) == (ImportJob.Status.FAILED, 3, None)
    assert job.last_error.startswith("The worker importing this file stopped before it finished (3 times)")
    assert not Customer.objects.exists()

    detail = reverse("customers:import_detail", args=[job.pk])
    page = mary_client.get(detail).content.decode()
    assert "The import failed and nothing was saved: The worker importing this file stopped" in page
    assert reverse("customers:import_retry", args=[job.pk]) in page and "Try again" in page
    assert 'hx-trigger="every 1s"' not in page

    with django_capture_on_commit_callbacks(execute=True):
        response = mary_client.post(reverse("customers:import_retry", args=[job.pk]))
    assert response.url == detail
    job.refresh_from_db()
    assert (job.status, job.attempts, job.last_error) == (ImportJob.Status.DONE, 1, "")
    assert Purchase.objects.count() == 30


def test_the_redelivered_task_of_a_job_out_of_attempts_marks_it_failed(
    ready_job, clock, django_capture_on_commit_callbacks
):
    job = _queued(ready_job, django_capture_on_commit_callbacks)
    for _ in range(3):
        _dies(job.pk)
        clock.shift(LEASE + dt.timedelta(seconds=1))

    assert import_commit_task(job.pk) == ImportJob.Status.FAILED
    assert not Customer.objects.exists()


def test_a_check_whose_worker_died_fails_as_a_check_and_trying_again_checks_again(
    mary_client, eager, clock, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks():  # the check task is left on the broker
        mary_client.post(reverse("customers:import_upload"), {"file": SimpleUploadedFile("sales.csv", CSV)})
    job = ImportJob.objects.get()
    for _ in range(3):
        _dies(job.pk, CHECK_STEP)
        clock.shift(LEASE + dt.timedelta(seconds=1))

    assert import_check_task(job.pk) == ImportJob.Status.CHECK_FAILED
    job.refresh_from_db()
    assert job.last_error.startswith("The worker checking this file stopped before it finished (3 times)")
    page = mary_client.get(reverse("customers:import_detail", args=[job.pk])).content.decode()
    assert "The check of the file failed: The worker checking this file stopped" in page and "Try again" in page

    with django_capture_on_commit_callbacks(execute=True):
        mary_client.post(reverse("customers:import_retry", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == ImportJob.Status.READY  # checked, waiting for the manager: nothing imported yet
    assert not Customer.objects.exists()


def test_a_job_whose_task_was_lost_is_queued_again_by_the_sweep(ready_job, clock, django_capture_on_commit_callbacks):
    job = _queued(ready_job, django_capture_on_commit_callbacks)  # and the broker lost the message
    clock.shift(LEASE + dt.timedelta(seconds=1))

    with django_capture_on_commit_callbacks() as queued:
        call_command("import_sweep")  # the same sweep as beat's
    assert len(queued) == 1
    job.refresh_from_db()
    assert job.status == ImportJob.Status.QUEUED and job.leased_until == NOW + 2 * LEASE + dt.timedelta(seconds=1)
    queued[0]()
    job.refresh_from_db()
    assert (job.status, job.attempts) == (ImportJob.Status.DONE, 1)


def test_a_worker_whose_lease_was_taken_over_rolls_its_whole_import_back(
    ready_job, clock, django_capture_on_commit_callbacks
):
    """A worker that stalled past its lease (not dead) finds at the end that another took the job over:
    it keeps nothing, and the job is left to the other one, which imports it once."""
    job = _queued(ready_job, django_capture_on_commit_callbacks)
    stalled = jobs._claim(job.pk, COMMIT_STEP)
    clock.shift(LEASE + dt.timedelta(seconds=1))
    other = jobs._claim(job.pk, COMMIT_STEP)
    assert other is not None

    jobs._commit(job, stalled)

    assert not Customer.objects.exists() and not Purchase.objects.exists()
    job.refresh_from_db()
    assert (job.status, job.leased_until) == (ImportJob.Status.RUNNING, other.until)
    jobs._commit(job, other)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE
    assert Purchase.objects.count() == 30


def test_only_a_failed_job_can_be_tried_again(ready_job, mary_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as queued:
        response = mary_client.post(reverse("customers:import_retry", args=[ready_job.pk]), follow=True)

    assert queued == []
    assert "Only a failed check or import can be tried again." in response.content.decode()
    ready_job.refresh_from_db()
    assert ready_job.status == ImportJob.Status.READY


def test_the_sweep_runs_from_beat():
    from aftersales.celery import app

    assert app.conf.beat_schedule["import-sweep"] == {"task": "aftersales.tasks.import_sweep_task", "schedule": 60.0}
    assert COMMIT_TASK in app.tasks and "aftersales.tasks.import_sweep_task" in app.tasks
