"""A real Celery worker process (not eager mode) consumes a task from the configured broker
and writes to the database: filesystem:// on the embedded defaults, Redis in CI."""

from __future__ import annotations

import re

import pytest
from django.db import transaction

from aftersales.celery import app as celery_app
from aftersales.models import MailboxMessage, OutboxEmail
from aftersales.outbox import outbox_enqueue
from tests.celery_worker import celery_worker, empty_queue, route_to_queue

pytestmark = pytest.mark.celery

# Not the default "celery" queue: a worker of `make run` on the same broker
# must not take the test's task (and deliver it into the dev database), and
# the test must not purge the dev worker's queue.
QUEUE = "aftersales-test-worker"
TASK = "aftersales.tasks.outbox_deliver_task"


@pytest.fixture
def test_queue():
    """Route outbox delivery tasks to an empty queue of their own on the real broker."""
    empty_queue(QUEUE)
    route_to_queue((TASK,), QUEUE)
    yield QUEUE
    route_to_queue((TASK,), None)


def _queued_messages(queue: str) -> int:
    with celery_app.connection_for_write() as conn:
        # Not passive: Redis has no empty queues, and declaring is idempotent.
        return conn.default_channel.queue_declare(queue, durable=True, auto_delete=False).message_count


def test_a_worker_process_consumes_the_task_from_the_broker_and_delivers_the_mail(
    transactional_db, test_queue, tmp_path
):
    assert not celery_app.conf.task_always_eager

    # Committed data, as a web request would leave it: on_commit publishes the task.
    with transaction.atomic():
        email = outbox_enqueue(
            to="ana@example.com",
            subject="Your check-up plan",
            body_text="Hello Ana",
            body_html="<p>Hello Ana</p>",
            kind=OutboxEmail.Kind.CARE_PLAN,
        )
    # Nothing in this process delivered it: the task waits on the broker.
    assert OutboxEmail.objects.get(pk=email.pk).sent_at is None
    assert _queued_messages(test_queue) == 1

    with celery_worker(queue=test_queue, log_path=tmp_path / "worker.log") as worker:
        worker.wait_for(
            lambda: (
                OutboxEmail.objects.filter(pk=email.pk, sent_at__isnull=False).exists()
                and MailboxMessage.objects.filter(message_id=email.message_id).exists()
            ),
            timeout=60,
            what="the worker delivers the email",
        )
        assert worker.stop() == 0, "warm shutdown on SIGTERM"
        log = worker.log()
        assert re.search(rf"Task {re.escape(TASK)}\[[0-9a-f-]+\] received", log), log
        assert re.search(rf"Task {re.escape(TASK)}\[[0-9a-f-]+\] succeeded in [0-9.]+s: True", log), log

    assert MailboxMessage.objects.filter(message_id=email.message_id).count() == 1
    kept = MailboxMessage.objects.get(message_id=email.message_id)
    assert (kept.to, kept.body_text, kept.body_html) == ("ana@example.com", "Hello Ana", "<p>Hello Ana</p>")
    assert OutboxEmail.objects.get(pk=email.pk).attempts == 1
    assert _queued_messages(test_queue) == 0
