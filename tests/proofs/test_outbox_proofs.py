"""Proofs that the outbox never double-sends and never loses mail, with real worker processes on the
configured broker (Redis in CI, the filesystem broker locally) and a real SMTP server counting Message-IDs."""

from __future__ import annotations

import time

import pytest
from django.db import transaction
from django.utils import timezone

from aftersales.mail.models import OutboxEmail
from aftersales.mail.outbox import outbox_enqueue
from aftersales.mail.tasks import outbox_sweep_task
from tests.celery_worker import celery_worker, empty_queue, route_to_queue
from tests.factories import OutboxEmailFactory
from tests.smtp_sink import smtp_env, smtp_sink

pytestmark = [pytest.mark.celery, pytest.mark.timeout(120)]

QUEUE = "aftersales-test-outbox-proofs"
TASKS = ("aftersales.tasks.outbox_deliver_task", "aftersales.tasks.outbox_sweep_task")
LEASE_SECONDS = 10


@pytest.fixture
def queue():
    empty_queue(QUEUE)
    route_to_queue(TASKS, QUEUE)
    yield QUEUE
    route_to_queue(TASKS, None)


def _enqueue(n: int) -> list[str]:
    with transaction.atomic():
        return [
            outbox_enqueue(
                to=f"customer{i}@example.com", subject=f"Mail {i}", body_text="Hello", kind="notification"
            ).message_id
            for i in range(n)
        ]


def _all_sent(message_ids: list[str]) -> bool:
    return OutboxEmail.objects.filter(message_id__in=message_ids, sent_at__isnull=False).count() == len(message_ids)


def test_two_workers_draining_one_outbox_never_send_a_message_id_twice(transactional_db, queue, tmp_path):
    message_ids = _enqueue(60)  # one delivery task each, on commit
    for _ in range(4):
        outbox_sweep_task.delay()  # and sweeps racing the tasks for the same rows

    with (
        smtp_sink() as (sink, port),
        celery_worker(queue=queue, log_path=tmp_path / "a.log", env=smtp_env(port), name="a") as first,
        celery_worker(queue=queue, log_path=tmp_path / "b.log", env=smtp_env(port), name="b"),
    ):
        first.wait_for(lambda: _all_sent(message_ids), timeout=60, what="both workers drain the outbox")
        time.sleep(1)  # let any straggling duplicate arrive before counting
        counts = sink.counts()

    assert set(counts) == set(message_ids)
    assert max(counts.values()) == 1, [mid for mid, n in counts.items() if n > 1]
    assert sum(OutboxEmail.objects.filter(message_id__in=message_ids).values_list("attempts", flat=True)) == 60


def test_a_worker_killed_mid_batch_then_restarted_delivers_everything_once(transactional_db, queue, tmp_path):
    # Rows without tasks: the sweep delivers them in one batch over one SMTP connection.
    emails = OutboxEmailFactory.create_batch(40, send_after=timezone.now())
    message_ids = [email.message_id for email in emails]
    env = smtp_env(0, OUTBOX_LEASE_SECONDS=str(LEASE_SECONDS))

    with smtp_sink(delay=0.1) as (sink, port):
        env["EMAIL_URL"] = f"smtp://127.0.0.1:{port}"
        outbox_sweep_task.delay()
        with celery_worker(queue=queue, log_path=tmp_path / "killed.log", env=env, name="killed") as worker:
            worker.wait_for(lambda: sink.total() >= 10, timeout=30, what="the batch is under way")
            worker.kill()
        delivered_before_kill = sink.total()
        assert delivered_before_kill < 40, "the kill must land in the middle of the batch"

        with celery_worker(queue=queue, log_path=tmp_path / "restarted.log", env=env, name="restarted") as worker:
            # Beat would send a sweep every minute; here every time the queue is idle.
            deadline = time.monotonic() + 45
            while not _all_sent(message_ids) and time.monotonic() < deadline:
                outbox_sweep_task.delay()
                time.sleep(2)
            worker.wait_for(lambda: _all_sent(message_ids), timeout=5, what="every email is delivered")
        counts = sink.counts()

    assert set(counts) == set(message_ids), "every email arrived"
    twice = [mid for mid, n in counts.items() if n > 1]
    assert len(twice) <= 1, f"only the email in flight at the kill may arrive twice, got {twice}"
    assert max(counts.values()) <= 2
    if twice:
        # It was claimed by the killed worker and claimed again once that lease expired.
        assert OutboxEmail.objects.get(message_id=twice[0]).attempts == 2


def test_a_rolled_back_change_sends_nothing_and_a_lost_enqueue_is_recovered_by_the_sweep(
    transactional_db, queue, tmp_path, monkeypatch
):
    with pytest.raises(RuntimeError), transaction.atomic():
        outbox_enqueue(to="rolled@example.com", subject="Never", body_text="Never sent", kind="notification")
        raise RuntimeError("the change failed")
    # A committed email whose delivery task is lost (the broker was down at commit time).
    monkeypatch.setattr("aftersales.mail.outbox._queue_delivery", lambda email_id: None)
    [lost] = _enqueue(1)
    monkeypatch.undo()
    assert not OutboxEmail.objects.filter(to="rolled@example.com").exists()

    with smtp_sink() as (sink, port), celery_worker(queue=queue, log_path=tmp_path / "w.log", env=smtp_env(port)) as w:
        time.sleep(3)
        assert sink.total() == 0, "no task, nothing sent: the enqueue really was lost"
        outbox_sweep_task.delay()  # what beat sends every minute
        w.wait_for(lambda: _all_sent([lost]), timeout=30, what="the sweep delivers the lost email")
        counts = sink.counts()

    assert counts == {lost: 1}
