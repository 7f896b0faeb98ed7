"""An import whose worker is killed mid-commit is finished by another worker once the lease runs out:
real Celery worker processes on the configured broker, a real SIGKILL, nothing imported twice."""

from __future__ import annotations

import datetime as dt
import io
import time

import pytest
from django.utils import timezone

from aftersales.core.queue import task_send
from aftersales.imports.jobs import (
    CHECK_TASK,
    COMMIT_TASK,
    SWEEP_TASK,
    import_job_check,
    import_job_create,
    import_job_queue,
    progress_get,
)
from aftersales.imports.models import ImportJob
from customers.models import Customer, Purchase
from tests.celery_worker import celery_worker, empty_queue, route_to_queue
from tests.factories import CheckupPlanFactory, ManagerFactory, PlanStepFactory, ProductFactory, RepFactory
from touchpoints.models import TouchPoint

pytestmark = pytest.mark.celery

QUEUE = "aftersales-test-import"
TASKS = (CHECK_TASK, COMMIT_TASK, SWEEP_TASK)
LEASE_SECONDS = 6
ROWS = 12_000
HEADER = "Customer ID;Customer name;Email;Rep;Order number;SKU;Order date;Total;Currency"


@pytest.fixture
def import_queue():
    """The import's tasks on an empty queue of their own on the real broker."""
    empty_queue(QUEUE)
    route_to_queue(TASKS, QUEUE)
    yield QUEUE
    route_to_queue(TASKS, None)


@pytest.fixture
def short_lease(settings):
    settings.AFTERSALES = {**settings.AFTERSALES, "IMPORT_LEASE_SECONDS": LEASE_SECONDS}


def _sales_file(rows: int) -> bytes:
    today = timezone.now().date().isoformat()  # check-ups are planned from today on
    lines = [HEADER] + [f"C{n};Customer {n};c{n}@example.com;alice;O{n};BOILER-1;{today};100;EUR" for n in range(rows)]
    return ("\r\n".join(lines) + "\r\n").encode()


def test_a_worker_killed_mid_commit_leaves_the_job_to_the_next_worker_which_imports_it_once(
    transactional_db, import_queue, short_lease, tmp_path
):
    """SIGKILL while the commit's transaction is open: nothing of it stays; the lease keeps everybody off
    the job until it runs out; then the sweep (as beat sends it) queues the commit again and a new
    worker imports the whole file, once."""
    RepFactory(username="alice")
    plan = CheckupPlanFactory()
    PlanStepFactory(plan=plan, position=1, offset_days=3)
    PlanStepFactory(plan=plan, position=2, offset_days=30)
    ProductFactory(sku="BOILER-1", default_plan=plan)
    job = import_job_create(filename="sales.csv", file=io.BytesIO(_sales_file(ROWS)), by=ManagerFactory())
    empty_queue(QUEUE)  # the check runs here, in-process; its queued task is dropped
    job = import_job_check(job_id=job.pk)
    assert job.status == ImportJob.Status.READY, job.errors[:3]
    env = {"IMPORT_LEASE_SECONDS": str(LEASE_SECONDS)}

    assert import_job_queue(job=job)  # committed at once (no transaction here): the task is on the broker
    with celery_worker(queue=import_queue, log_path=tmp_path / "first.log", env=env, name="first") as first:
        first.wait_for(
            lambda: (progress_get(job.pk) or {}).get("stage") == "purchases",
            timeout=120,
            what="the first worker is writing the purchases, inside the commit's transaction",
        )
        first.kill()
        killed_at = timezone.now()
    job.refresh_from_db()
    assert job.status == ImportJob.Status.RUNNING and job.attempts == 1
    assert job.leased_until > killed_at, "the dead worker's lease still holds"
    lease_ends = job.leased_until
    assert Customer.objects.count() == Purchase.objects.count() == 0, "the killed transaction left nothing"

    with celery_worker(queue=import_queue, log_path=tmp_path / "second.log", env=env, name="second") as second:
        taken_over_at = None
        deadline = time.monotonic() + 180
        while job.status in (ImportJob.Status.RUNNING, ImportJob.Status.QUEUED) and time.monotonic() < deadline:
            assert second.process.poll() is None, second.log()
            task_send(SWEEP_TASK)  # beat sends it every minute; here every second
            time.sleep(1)
            job.refresh_from_db()
            if taken_over_at is None and (job.attempts == 2 or job.status == ImportJob.Status.QUEUED):
                taken_over_at = timezone.now()
        finished_at = timezone.now()
    print(f"killed {killed_at:%T.%f}, lease ran out {lease_ends:%T.%f}, taken over {taken_over_at:%T.%f}, "
          f"done {finished_at:%T.%f}")  # fmt: skip

    assert job.status == ImportJob.Status.DONE, (job.status, job.last_error)
    assert job.attempts == 2
    # Nobody took the job while the dead worker's lease held; the first sweep after it ran out did.
    assert taken_over_at is not None and lease_ends <= taken_over_at < lease_ends + dt.timedelta(seconds=30)
    assert finished_at < lease_ends + dt.timedelta(seconds=120)
    assert job.summary["result"]["new_customers"] == ROWS and job.summary["result"]["new_purchases"] == ROWS
    assert Customer.objects.count() == Purchase.objects.count() == ROWS
    assert TouchPoint.objects.count() == 2 * ROWS
    assert Purchase.objects.values("external_ref").distinct().count() == ROWS
