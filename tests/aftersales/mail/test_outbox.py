"""The email outbox: a row written with the change, delivered once, retried with backoff."""

from __future__ import annotations

import datetime as dt
import smtplib

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.core.mail.backends.base import BaseEmailBackend
from django.core.management import CommandError, call_command
from django.db import transaction
from django.utils import timezone

from aftersales.celery import app as celery_app
from aftersales.mail.mailbox import DevMailboxBackend
from aftersales.mail.models import MailboxMessage, OutboxEmail
from aftersales.mail.outbox import outbox_deliver, outbox_enqueue, outbox_sweep
from aftersales.mail.tasks import outbox_sweep_task
from tests.factories import OutboxEmailFactory

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


class FailingBackend(BaseEmailBackend):
    """A mail server that refuses everything, the way smtplib reports it."""

    attempts = 0

    def send_messages(self, email_messages):
        FailingBackend.attempts += 1
        raise smtplib.SMTPException("421 service not available")


class UnreachableBackend(BaseEmailBackend):
    """A mail server that cannot even be connected to."""

    def open(self):
        raise ConnectionRefusedError("connection refused")

    def send_messages(self, email_messages):
        raise AssertionError("nothing may be sent without a connection")


class TimedOutBackend(BaseEmailBackend):
    """The worker's soft time limit strikes while the message is being sent."""

    def send_messages(self, email_messages):
        raise SoftTimeLimitExceeded()


class CountingMailboxBackend(DevMailboxBackend):
    """The dev mailbox, counting how many connections were opened."""

    opened = 0

    def open(self):
        CountingMailboxBackend.opened += 1
        return True


class ReentrantMailboxBackend(DevMailboxBackend):
    """While a message is being sent, a second worker tries to deliver the same row."""

    second_claims: list[bool] = []

    def send_messages(self, email_messages):
        for message in email_messages:
            email_id = OutboxEmail.objects.get(message_id=message.extra_headers["Message-ID"]).pk
            ReentrantMailboxBackend.second_claims.append(outbox_deliver(email_id=email_id))
        return super().send_messages(email_messages)


@pytest.fixture
def mailbox(settings):
    settings.EMAIL_BACKEND = "aftersales.mail.mailbox.DevMailboxBackend"


@pytest.fixture
def failing_mail(settings):
    FailingBackend.attempts = 0
    settings.EMAIL_BACKEND = "tests.aftersales.mail.test_outbox.FailingBackend"
    settings.AFTERSALES = {**settings.AFTERSALES, "OUTBOX_MAX_ATTEMPTS": 3}


@pytest.fixture
def eager_celery():
    """Run tasks in this process when queued; the real-worker test is tests/proofs/test_celery_worker.py."""
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager = False
    celery_app.conf.task_eager_propagates = False


def enqueue(**overrides) -> OutboxEmail:
    fields = {
        "to": "ana@example.com",
        "subject": "Your check-up plan",
        "body_text": "Hello Ana, here is your plan.",
        "body_html": "<p>Hello Ana, here is <b>your plan</b>.</p>",
        "kind": OutboxEmail.Kind.CARE_PLAN,
    }
    return outbox_enqueue(**{**fields, **overrides})


@pytest.mark.django_db
def test_enqueue_in_a_rolled_back_transaction_leaves_no_row_and_queues_nothing(
    eager_celery, mailoutbox, django_capture_on_commit_callbacks
):
    # Eager Celery and the in-memory mail backend (which no rollback undoes):
    # a task queued before the commit would show up as a sent mail.
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        enqueue()
        raise RuntimeError("the change that caused the mail failed")
    assert callbacks == []
    assert mailoutbox == []
    assert not OutboxEmail.objects.exists()


@pytest.mark.django_db
def test_committed_enqueue_queues_one_delivery_that_sends_the_mail(
    mailbox, eager_celery, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        email = enqueue()
        assert MailboxMessage.objects.count() == 0, "nothing may be sent before the transaction commits"
    assert len(callbacks) == 1
    email.refresh_from_db()
    assert email.sent_at is not None
    assert MailboxMessage.objects.get().message_id == email.message_id


@pytest.mark.django_db
def test_mail_scheduled_for_later_is_left_to_the_sweep(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        email = enqueue(send_after=timezone.now() + dt.timedelta(hours=2))
    assert callbacks == []
    assert OutboxEmail.objects.get(pk=email.pk).status == "pending"


@pytest.mark.django_db
def test_delivered_mail_has_the_stable_message_id_and_text_and_html_parts(mailbox):
    email = enqueue(headers={"X-Aftersales-Kind": "care_plan"}, reply_to="rep@example.com")

    assert outbox_deliver(email_id=email.pk) is True

    kept = MailboxMessage.objects.get()
    assert kept.message_id == email.message_id
    assert kept.to == "ana@example.com"
    assert kept.subject == "Your check-up plan"
    assert kept.body_text == "Hello Ana, here is your plan."
    assert kept.body_html == "<p>Hello Ana, here is <b>your plan</b>.</p>"
    assert kept.headers["X-Aftersales-Kind"] == "care_plan"
    assert kept.headers["Reply-To"] == "rep@example.com"
    assert "multipart/alternative" in kept.raw
    assert "text/html" in kept.raw
    email.refresh_from_db()
    assert email.sent_at is not None
    assert email.leased_until is None
    assert email.attempts == 1


@pytest.mark.django_db
def test_a_second_delivery_of_the_same_row_sends_nothing(mailbox):
    email = enqueue()

    assert outbox_deliver(email_id=email.pk) is True
    assert outbox_deliver(email_id=email.pk) is False

    assert MailboxMessage.objects.count() == 1
    assert OutboxEmail.objects.get(pk=email.pk).attempts == 1


@pytest.mark.django_db
def test_a_claim_while_another_worker_is_sending_fails(settings):
    ReentrantMailboxBackend.second_claims = []
    settings.EMAIL_BACKEND = "tests.aftersales.mail.test_outbox.ReentrantMailboxBackend"
    email = enqueue()

    assert outbox_deliver(email_id=email.pk) is True

    assert ReentrantMailboxBackend.second_claims == [False]
    assert MailboxMessage.objects.count() == 1


@pytest.mark.django_db
def test_a_live_lease_blocks_delivery_until_it_expires(mailbox, time_machine):
    time_machine.move_to(NOW, tick=False)
    email = OutboxEmailFactory(send_after=NOW, leased_until=NOW + dt.timedelta(minutes=5))

    assert outbox_deliver(email_id=email.pk) is False
    assert not MailboxMessage.objects.exists()

    time_machine.move_to(NOW + dt.timedelta(minutes=6), tick=False)
    assert outbox_deliver(email_id=email.pk) is True
    assert MailboxMessage.objects.get().message_id == email.message_id


@pytest.mark.django_db
def test_a_failed_send_is_retried_with_backoff_and_finally_marked_failed(failing_mail, time_machine):
    time_machine.move_to(NOW, tick=False)
    email = enqueue()

    assert outbox_deliver(email_id=email.pk) is False
    email.refresh_from_db()
    assert email.attempts == 1
    assert "SMTPException: 421 service not available" in email.last_error
    assert email.send_after == NOW + dt.timedelta(minutes=1)
    assert email.leased_until is None
    assert email.status == "pending"

    # Not due yet: no attempt is made.
    assert outbox_deliver(email_id=email.pk) is False
    assert FailingBackend.attempts == 1

    second = NOW + dt.timedelta(minutes=1)
    time_machine.move_to(second, tick=False)
    assert outbox_deliver(email_id=email.pk) is False
    email.refresh_from_db()
    assert email.attempts == 2
    assert email.send_after == second + dt.timedelta(minutes=2)

    third = second + dt.timedelta(minutes=2)
    time_machine.move_to(third, tick=False)
    assert outbox_deliver(email_id=email.pk) is False
    email.refresh_from_db()
    assert email.attempts == 3
    assert email.failed_at == third
    assert email.status == "failed"

    time_machine.move_to(third + dt.timedelta(days=1), tick=False)
    assert outbox_deliver(email_id=email.pk) is False
    assert FailingBackend.attempts == 3


@pytest.mark.django_db
def test_a_retry_after_a_failure_keeps_the_message_id(failing_mail, settings, time_machine):
    time_machine.move_to(NOW, tick=False)
    email = enqueue()
    assert outbox_deliver(email_id=email.pk) is False

    settings.EMAIL_BACKEND = "aftersales.mail.mailbox.DevMailboxBackend"
    time_machine.move_to(NOW + dt.timedelta(minutes=1), tick=False)
    assert outbox_deliver(email_id=email.pk) is True

    email.refresh_from_db()
    assert MailboxMessage.objects.get().message_id == email.message_id
    assert email.attempts == 2
    assert email.last_error == ""


@pytest.mark.django_db
def test_the_sweep_delivers_due_rows_and_skips_leased_future_and_finished_ones(settings, time_machine):
    CountingMailboxBackend.opened = 0
    settings.EMAIL_BACKEND = "tests.aftersales.mail.test_outbox.CountingMailboxBackend"
    time_machine.move_to(NOW, tick=False)
    due = OutboxEmailFactory(send_after=NOW - dt.timedelta(minutes=3))
    lease_expired = OutboxEmailFactory(
        send_after=NOW - dt.timedelta(hours=1), leased_until=NOW - dt.timedelta(minutes=1)
    )
    due_now = OutboxEmailFactory(send_after=NOW)
    leased = OutboxEmailFactory(send_after=NOW - dt.timedelta(hours=1), leased_until=NOW + dt.timedelta(minutes=1))
    future = OutboxEmailFactory(send_after=NOW + dt.timedelta(minutes=1))
    sent = OutboxEmailFactory(send_after=NOW - dt.timedelta(hours=1), sent_at=NOW - dt.timedelta(hours=1))
    failed = OutboxEmailFactory(send_after=NOW - dt.timedelta(hours=1), failed_at=NOW - dt.timedelta(hours=1))

    assert outbox_sweep() == 3

    delivered = set(MailboxMessage.objects.values_list("message_id", flat=True))
    assert delivered == {due.message_id, lease_expired.message_id, due_now.message_id}
    for untouched in (leased, future, sent, failed):
        assert OutboxEmail.objects.get(pk=untouched.pk).attempts == 0
    assert CountingMailboxBackend.opened == 1, "one connection serves the whole batch"


@pytest.mark.django_db
def test_the_sweep_takes_the_longest_waiting_rows_first(mailbox):
    oldest = OutboxEmailFactory(send_after=timezone.now() - dt.timedelta(hours=3))
    older = OutboxEmailFactory(send_after=timezone.now() - dt.timedelta(hours=2))
    newest = OutboxEmailFactory(send_after=timezone.now() - dt.timedelta(hours=1))

    assert outbox_sweep(batch_size=2) == 2

    assert set(MailboxMessage.objects.values_list("message_id", flat=True)) == {oldest.message_id, older.message_id}
    assert OutboxEmail.objects.get(pk=newest.pk).status == "pending"


@pytest.mark.django_db
def test_the_sweep_stops_when_the_mail_server_keeps_failing(failing_mail):
    emails = OutboxEmailFactory.create_batch(5, send_after=timezone.now() - dt.timedelta(minutes=1))

    assert outbox_sweep() == 0

    attempts = sorted(OutboxEmail.objects.filter(pk__in=[e.pk for e in emails]).values_list("attempts", flat=True))
    assert attempts == [0, 0, 1, 1, 1]


@pytest.mark.django_db
def test_the_sweep_claims_nothing_when_no_mail_connection_opens(settings):
    settings.EMAIL_BACKEND = "tests.aftersales.mail.test_outbox.UnreachableBackend"
    email = OutboxEmailFactory(send_after=timezone.now() - dt.timedelta(minutes=1))

    assert outbox_sweep() == 0

    email.refresh_from_db()
    assert (email.attempts, email.leased_until, email.last_error) == (0, None, "")


@pytest.mark.django_db
def test_a_send_cut_short_by_the_time_limit_keeps_its_lease(settings, time_machine):
    settings.EMAIL_BACKEND = "tests.aftersales.mail.test_outbox.TimedOutBackend"
    time_machine.move_to(NOW, tick=False)
    email = enqueue()

    with pytest.raises(SoftTimeLimitExceeded):
        outbox_deliver(email_id=email.pk)

    email.refresh_from_db()
    assert email.attempts == 1
    assert email.leased_until == NOW + dt.timedelta(seconds=settings.AFTERSALES["OUTBOX_LEASE_SECONDS"])
    assert email.status == "pending"


@pytest.mark.django_db
def test_the_sweep_task_runs_the_sweep(mailbox):
    OutboxEmailFactory(send_after=timezone.now())

    assert outbox_sweep_task.apply().get() == 1
    assert MailboxMessage.objects.count() == 1


@pytest.mark.django_db
def test_the_management_command_delivers_due_mail(mailbox, capsys):
    email = OutboxEmailFactory(send_after=timezone.now() - dt.timedelta(minutes=1))

    call_command("outbox_deliver")

    assert "Sent 1 email(s)." in capsys.readouterr().out
    assert OutboxEmail.objects.get(pk=email.pk).status == "sent"
    assert MailboxMessage.objects.get().message_id == email.message_id


@pytest.mark.django_db
def test_the_management_command_rejects_an_empty_batch():
    with pytest.raises(CommandError, match="at least 1"):
        call_command("outbox_deliver", "--batch-size", "0")


@pytest.mark.django_db
def test_staff_see_how_many_emails_failed_for_good_on_the_dev_mailbox(mary_client):
    from django.urls import reverse

    OutboxEmailFactory.create_batch(2, failed_at=timezone.now(), attempts=8, last_error="550 no such user")
    OutboxEmailFactory(sent_at=timezone.now())

    response = mary_client.get(reverse("mailbox:list"))

    assert "2 emails could not be delivered after every retry." in response.content.decode()
    assert "?delivery=failed" in response.content.decode()


@pytest.mark.django_db
def test_a_sweep_batch_that_runs_long_gives_back_the_rows_it_did_not_try(mailbox, settings, monkeypatch):
    """The whole batch is leased at once; rows not reached before half the lease are released, not kept."""
    emails = OutboxEmailFactory.create_batch(3, send_after=timezone.now() - dt.timedelta(minutes=1))
    clock = iter([0.0, 0.0, 10_000.0, 10_000.0, 10_000.0])
    monkeypatch.setattr("aftersales.mail.outbox.time.monotonic", lambda: next(clock))

    assert outbox_sweep() == 1

    rows = OutboxEmail.objects.filter(pk__in=[e.pk for e in emails]).order_by("send_after", "pk")
    assert [(row.status, row.attempts, row.leased_until) for row in rows][1:] == [("pending", 0, None)] * 2
    assert rows[0].status == "sent"


def test_a_batch_is_one_insert_its_suppressed_addresses_are_refused_and_one_sweep_delivers_it(
    db, django_capture_on_commit_callbacks, django_assert_num_queries
):
    """outbox_enqueue_many (the loop job's alerts): one lookup, one INSERT, one sweep task after commit."""
    from django.core import mail

    from aftersales.mail.outbox import SUPPRESSED_ERROR, outbox_enqueue_many
    from aftersales.mail.suppression import email_suppress

    email_suppress(address="gone@example.com", reason="erased")
    messages = [
        {"to": to, "subject": f"Hi {to}", "body_text": "Hi", "kind": OutboxEmail.Kind.NOTIFICATION}
        for to in ("ana@example.com", " GONE@example.com", "bo@example.com")
    ]

    with django_capture_on_commit_callbacks() as callbacks, django_assert_num_queries(2):
        emails = outbox_enqueue_many(messages)

    assert [email.failed_at is None for email in emails] == [True, False, True]
    assert emails[1].last_error == SUPPRESSED_ERROR
    assert len(callbacks) == 1  # one sweep for the batch, not a task per email
    assert outbox_sweep() == 2
    assert sorted(message.to[0] for message in mail.outbox) == ["ana@example.com", "bo@example.com"]
