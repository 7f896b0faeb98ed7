"""A real Celery worker process (not eager mode) consumes a task from the configured broker
and writes to the database: filesystem:// on the embedded defaults, Redis in CI."""

from __future__ import annotations

import re

import pytest
from django.db import transaction

from aftersales.celery import app as celery_app
from aftersales.mail.models import MailboxMessage, OutboxEmail
from aftersales.mail.outbox import outbox_enqueue
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


LOOP_TASKS = ("feedback.tasks.survey_loops_open_task", "aftersales.tasks.outbox_sweep_task")


@pytest.fixture
def loop_queue():
    """Route the loop job and the outbox sweep it queues to an empty queue of their own."""
    empty_queue(QUEUE)
    route_to_queue(LOOP_TASKS, QUEUE)
    yield QUEUE
    route_to_queue(LOOP_TASKS, None)


def test_a_low_answer_becomes_a_flag_a_call_back_and_the_owners_mail_through_the_worker(
    transactional_db, loop_queue, tmp_path, client, settings
):
    """The survey POST leaves the loop pending and queues the job on commit; a real worker opens it
    (flags, call-back) and the sweep it queues delivers the owner's alert: no step runs in this process."""
    from customers.models import FlagReason, RiskFlag
    from feedback.models import SurveyResponse, hash_token, new_token
    from tests.factories import CustomerFactory, RepFactory, SurveyInvitationFactory
    from touchpoints.models import Kind, TouchPoint

    owner = RepFactory(email="owner@example.com")
    token = new_token()
    SurveyInvitationFactory(customer=CustomerFactory(owner=owner, name="Ana Vidal"), token_hash=hash_token(token))

    answered = client.post(f"/feedback/s/{token}/", {"nps": "2", "csat": "1", "comment": "Broke in a week"})

    assert answered.status_code == 302
    assert SurveyResponse.objects.get().loop_pending == "detractor,low_csat"
    assert not RiskFlag.objects.exists() and _queued_messages(loop_queue) == 1  # the kick, waiting on the broker
    with celery_worker(queue=loop_queue, log_path=tmp_path / "worker.log") as worker:
        worker.wait_for(
            lambda: MailboxMessage.objects.filter(to="owner@example.com").exists(),
            timeout=60,
            what="the owner's alert is delivered",
        )
        assert worker.stop() == 0
    assert set(RiskFlag.objects.open().values_list("reason", flat=True)) == {FlagReason.DETRACTOR, FlagReason.LOW_CSAT}
    [followup] = TouchPoint.objects.filter(kind=Kind.CLOSE_LOOP)
    assert followup.assignee == owner and "Broke in a week" in followup.objective
    [mail] = MailboxMessage.objects.filter(to="owner@example.com")
    assert "Ana Vidal" in mail.subject and "> Broke in a week" in mail.body_text
    assert SurveyResponse.objects.get().loop_pending == ""


@pytest.fixture
def kick_queue():
    """Only the loop job on the test's queue: what the answers queue, counted alone."""
    empty_queue(QUEUE)
    route_to_queue(LOOP_TASKS[:1], QUEUE)
    yield QUEUE
    route_to_queue(LOOP_TASKS[:1], None)


def test_low_answers_queue_one_loop_run_at_a_time_on_a_shared_cache(transactional_db, kick_queue, client):
    """On Redis the first low answer queues a run and the next ones join it; the run reopens the door.
    On a per-process cache (one machine) each low answer queues its own run: nothing is ever left waiting."""
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    from feedback.models import hash_token, new_token
    from feedback.services.loops import survey_loops_open
    from tests.factories import CustomerFactory, SurveyInvitationFactory

    shared = isinstance(caches["default"], RedisCache)

    def low_answer() -> None:
        token = new_token()
        SurveyInvitationFactory(customer=CustomerFactory(), token_hash=hash_token(token))
        assert client.post(f"/feedback/s/{token}/", {"nps": "1"}).status_code == 302

    for _ in range(3):
        low_answer()
    assert _queued_messages(kick_queue) == (1 if shared else 3)

    assert survey_loops_open() == 3  # the run (here in process) takes all three and clears the key
    low_answer()
    assert _queued_messages(kick_queue) == (2 if shared else 4)
