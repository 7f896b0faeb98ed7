"""Proofs on a real database: sweeps running at once flag every customer exactly once and tell each owner once.

Threads and processes each use their own database connection, so the races
are the database's: on PostgreSQL the partial unique index and the
conditional claim decide; on SQLite writers are serialised.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable

import pytest
from django.conf import settings
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from aftersales.celery import app as celery_app
from aftersales.mail.models import OutboxEmail
from aftersales.risk.sweeps import riskflag_notify_owners, riskflag_sweep_gone_quiet
from customers.models import FlagReason, RiskFlag
from tests.celery_worker import celery_worker, worker_environment
from tests.factories import CustomerFactory, RepFactory

DAY = dt.timedelta(days=1)
CUSTOMERS = 120


@pytest.fixture
def quiet_book(transactional_db):
    """Three reps with 40 quiet customers each, and a few who are not quiet."""
    now = timezone.now()
    reps = [RepFactory(username=f"rep{i}") for i in range(3)]
    for i in range(CUSTOMERS):
        CustomerFactory(owner=reps[i % 3], last_contact_at=now - 50 * DAY, quiet_after=now - 5 * DAY)
    for rep in reps:
        CustomerFactory(owner=rep, last_contact_at=now, quiet_after=now + 45 * DAY)
    return reps


def run_at_once(*jobs: Callable[[], object]) -> list[object]:
    """Start the jobs in threads released together; return their results or raise the first error."""
    barrier = threading.Barrier(len(jobs))
    results: list[object] = [None] * len(jobs)
    errors: list[BaseException] = []

    def run(index: int, job: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = job()
        except BaseException as exc:  # reported to the test below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    if errors:
        raise errors[0]
    return results


def assert_each_quiet_customer_flagged_once() -> None:
    per_customer = RiskFlag.objects.filter(reason=FlagReason.GONE_QUIET).values("customer_id").annotate(n=Count("pk"))
    counts = Counter(row["n"] for row in per_customer)
    assert counts == {1: CUSTOMERS}, counts


def test_two_sweeps_in_threads_flag_every_customer_exactly_once(quiet_book):
    # Small batches, so the two sweeps interleave over many statements.
    first, second = run_at_once(
        lambda: riskflag_sweep_gone_quiet(batch_ids=7), lambda: riskflag_sweep_gone_quiet(batch_ids=7)
    )

    assert first.flagged + second.flagged == CUSTOMERS
    assert_each_quiet_customer_flagged_once()
    assert riskflag_sweep_gone_quiet().flagged == 0


def test_two_sweep_commands_in_separate_processes_flag_every_customer_exactly_once(quiet_book):
    command = [sys.executable, "manage.py", "sweep_quiet", "--batch-ids", "5"]
    processes = [
        subprocess.Popen(
            command,
            cwd=settings.BASE_DIR,
            env=worker_environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=120)[0] for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs

    flagged = sum(int(out.split("Gone quiet: ")[1].split(" flagged")[0]) for out in outputs)
    emails = sum(int(out.split("resolved, ")[1].split(" owner")[0]) for out in outputs)
    assert flagged == CUSTOMERS, outputs
    assert_each_quiet_customer_flagged_once()
    # Each owner told once, whichever process claimed their flags.
    assert emails == 3, outputs
    assert sorted(OutboxEmail.objects.values_list("to", flat=True)) == sorted(rep.email for rep in quiet_book)


def test_two_notifiers_at_once_tell_each_owner_once(quiet_book):
    riskflag_sweep_gone_quiet()

    results = run_at_once(riskflag_notify_owners, riskflag_notify_owners)

    assert sum(results) == 3
    assert Counter(OutboxEmail.objects.values_list("to", flat=True)) == {rep.email: 1 for rep in quiet_book}
    assert not RiskFlag.objects.filter(owner_notified_at__isnull=True).exists()
    for rep in quiet_book:
        assert OutboxEmail.objects.get(to=rep.email).subject == "40 of your customers need attention"


QUEUE = "aftersales-test-sweeps"
TASK = "aftersales.risk.tasks.sweep_quiet_task"


@pytest.fixture
def sweep_queue():
    """Route the sweep task to an empty queue of its own on the real broker."""
    with celery_app.connection_for_write() as conn:
        conn.default_channel.queue_declare(QUEUE, durable=True, auto_delete=False)
        conn.default_channel.queue_purge(QUEUE)
    celery_app.conf.task_routes = {TASK: {"queue": QUEUE}}
    celery_app.amqp.flush_routes()
    celery_app.amqp.router = celery_app.amqp.Router()
    yield QUEUE
    celery_app.conf.task_routes = None
    celery_app.amqp.flush_routes()
    celery_app.amqp.router = celery_app.amqp.Router()


@pytest.mark.celery
def test_a_worker_process_runs_the_sweep_task_from_the_broker(quiet_book, sweep_queue, tmp_path):
    from aftersales.risk.tasks import sweep_quiet_task

    sweep_quiet_task.delay()
    sweep_quiet_task.delay()  # beat firing twice (or two beats): still one flag and one email each

    with celery_worker(queue=sweep_queue, log_path=tmp_path / "worker.log") as worker:
        worker.wait_for(
            lambda: worker.log().count(f"Task {TASK}") >= 4,  # two received, two succeeded
            timeout=90,
            what="the worker runs both sweeps",
        )
        assert worker.stop() == 0
        log = worker.log()
    assert "succeeded in" in log and f"'{CUSTOMERS} flagged, 0 resolved, 3 owner email(s)'" in log, log
    assert "'0 flagged, 0 resolved, 0 owner email(s)'" in log, log
    assert_each_quiet_customer_flagged_once()
    assert OutboxEmail.objects.count() == 3
