"""Reminders when a check-up falls due (once, within the rep's working hours) and the missed sweep."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from aftersales.core.models import UserProfile
from aftersales.mail.models import OutboxEmail
from customers.models import Customer
from tests.factories import CustomerFactory, TouchPointFactory
from touchpoints.models import Status, TouchPoint
from touchpoints.reminders import reminders_send, touchpoints_mark_missed
from touchpoints.services import touchpoint_reschedule
from touchpoints.tasks import reminders_send_task

# A Monday, 10:00 UTC.
NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def no_broker(monkeypatch):
    """Tests that commit must not publish delivery tasks to the real broker; delivery is tested elsewhere."""
    monkeypatch.setattr("aftersales.mail.outbox._queue_delivery", lambda email_id: None)


def reminders() -> list[OutboxEmail]:
    return list(OutboxEmail.objects.filter(kind=OutboxEmail.Kind.REMINDER).order_by("pk"))


@pytest.mark.django_db
def test_a_due_touch_point_gets_exactly_one_reminder_with_what_the_rep_needs(alice, frozen):
    customer = CustomerFactory(owner=alice, name="Ana <b>López</b>", phone="+34 600 000 000")
    touchpoint = TouchPointFactory(
        customer=customer, due_at=NOW - dt.timedelta(minutes=5), objective="Check the install"
    )

    assert reminders_send() == 1
    assert reminders_send() == 0, "a second run sends nothing more"

    [email] = reminders()
    assert email.to == alice.email
    assert "Ana <b>López</b>" in email.subject
    assert "Check the install" in email.body_text
    assert "+34 600 00 00 00" in email.body_text  # the stored number, as people read it (customers/phones.py)
    assert "Ana &lt;b&gt;López&lt;/b&gt;" in email.body_html, "customer text is escaped in HTML mail"
    assert f"/customers/{customer.pk}/" in email.body_text
    touchpoint.refresh_from_db()
    assert touchpoint.reminder_sent_at == NOW


@pytest.mark.django_db
def test_the_reminder_writes_the_phone_as_people_read_it(alice, frozen):
    """Stored in E.164 (customers/phones.py); the mail, like the customer page, groups the digits."""
    customer = CustomerFactory(owner=alice, phone="+34612345678")
    TouchPointFactory(customer=customer, due_at=NOW - dt.timedelta(minutes=5))

    assert reminders_send() == 1
    [email] = reminders()
    assert "+34 612 34 56 78" in email.body_text and "+34 612 34 56 78" in email.body_html
    assert "+34612345678" not in email.body_text


def test_touch_points_not_yet_due_done_or_long_overdue_get_no_reminder(alice, frozen):
    TouchPointFactory(customer__owner=alice, due_at=NOW + dt.timedelta(minutes=1))
    TouchPointFactory(customer__owner=alice, due_at=NOW - dt.timedelta(hours=1), status=Status.CANCELLED)
    TouchPointFactory(customer__owner=alice, due_at=NOW - dt.timedelta(days=30))

    assert reminders_send() == 0
    assert reminders() == []


@pytest.mark.django_db
def test_outside_working_hours_the_reminder_waits_for_the_next_window(alice, time_machine):
    # Alice works 09:00–17:00 in Madrid (UTC+1 in March): 17:30 Madrid is 16:30 UTC.
    UserProfile.objects.create(user=alice, timezone="Europe/Madrid", workday_start="09:00", workday_end="17:00")
    evening = dt.datetime(2026, 3, 2, 16, 30, tzinfo=dt.UTC)
    time_machine.move_to(evening, tick=False)
    touchpoint = TouchPointFactory(customer__owner=alice, due_at=evening - dt.timedelta(minutes=10))

    assert reminders_send() == 0
    time_machine.move_to(dt.datetime(2026, 3, 3, 7, 30, tzinfo=dt.UTC), tick=False)  # 08:30 in Madrid
    assert reminders_send() == 0
    assert TouchPoint.objects.get(pk=touchpoint.pk).reminder_sent_at is None

    time_machine.move_to(dt.datetime(2026, 3, 3, 8, 0, tzinfo=dt.UTC), tick=False)  # 09:00 in Madrid
    assert reminders_send() == 1
    # The due time is shown on the rep's clock: 16:20 UTC is 17:20 in Madrid.
    assert "17:20 (Europe/Madrid)" in reminders()[0].body_text


@pytest.mark.django_db
def test_without_a_profile_the_working_day_is_9_to_18_utc(alice, time_machine):
    time_machine.move_to(dt.datetime(2026, 3, 2, 18, 0, tzinfo=dt.UTC), tick=False)
    TouchPointFactory(customer__owner=alice, due_at=dt.datetime(2026, 3, 2, 17, 0, tzinfo=dt.UTC))
    assert reminders_send() == 0

    time_machine.move_to(dt.datetime(2026, 3, 3, 9, 0, tzinfo=dt.UTC), tick=False)
    assert reminders_send() == 1


@pytest.mark.django_db
def test_each_rep_is_reminded_of_their_own_touch_points_across_batches(alice, bob, frozen):
    for _ in range(3):
        TouchPointFactory(customer__owner=alice, due_at=NOW - dt.timedelta(minutes=1))
    TouchPointFactory(customer__owner=bob, due_at=NOW - dt.timedelta(minutes=1))

    assert reminders_send(batch_size=2) == 4

    assert sorted(email.to for email in reminders()) == [alice.email] * 3 + [bob.email]
    assert not TouchPoint.objects.filter(reminder_sent_at__isnull=True).exists()


@pytest.mark.django_db
def test_a_rescheduled_touch_point_is_reminded_again_at_its_new_date(alice, frozen, time_machine):
    touchpoint = TouchPointFactory(customer__owner=alice, due_at=NOW - dt.timedelta(minutes=1))
    assert reminders_send() == 1

    touchpoint_reschedule(touchpoint=touchpoint, by=alice, due_date=dt.date(2026, 3, 4), reason="Customer away")
    time_machine.move_to(dt.datetime(2026, 3, 4, 12, 0, tzinfo=dt.UTC), tick=False)
    assert reminders_send() == 1
    assert len(reminders()) == 2


@pytest.mark.django_db(transaction=True)
def test_a_failed_transaction_leaves_neither_claim_nor_reminder(alice, frozen, no_broker, monkeypatch):
    touchpoint = TouchPointFactory(customer__owner=alice, due_at=NOW - dt.timedelta(minutes=1))

    def broken_template(*args, **kwargs):
        raise RuntimeError("template error")

    with monkeypatch.context() as patch:
        patch.setattr("touchpoints.reminders.render_to_string", broken_template)
        with pytest.raises(RuntimeError):
            reminders_send()

    assert TouchPoint.objects.get(pk=touchpoint.pk).reminder_sent_at is None
    assert reminders() == []
    with transaction.atomic():
        assert reminders_send() == 1


@pytest.mark.django_db(transaction=True)
def test_two_reminder_runs_at_the_same_moment_remind_each_touch_point_once(alice, bob, frozen, no_broker):
    """Two connections sweep at once: row locks (PostgreSQL) or one writer at a time (SQLite) split the work."""
    for owner in (alice, bob):
        for _ in range(20):
            TouchPointFactory(customer__owner=owner, due_at=NOW - dt.timedelta(minutes=1))
    barrier = threading.Barrier(2)
    counts: list[int] = []

    def run() -> None:
        try:
            barrier.wait()
            counts.append(reminders_send(batch_size=3))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sum(counts) == 40
    reminded = [email.headers["X-Aftersales-Touchpoint"] for email in reminders()]
    assert len(reminded) == len(set(reminded)) == 40


@pytest.mark.django_db
def test_the_task_and_the_command_run_the_same_job(alice, frozen, capsys):
    TouchPointFactory(customer__owner=alice, due_at=NOW - dt.timedelta(minutes=1))
    TouchPointFactory(customer__owner=alice, due_at=NOW - dt.timedelta(minutes=2))

    assert reminders_send_task.apply().get() == 2
    call_command("send_reminders")
    assert "Queued 0 reminder(s)." in capsys.readouterr().out


# --- Missed ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_touch_points_overdue_beyond_the_grace_period_become_missed(alice, frozen, settings):
    settings.AFTERSALES = {**settings.AFTERSALES, "MISSED_GRACE_DAYS": 7}
    customer = CustomerFactory(owner=alice)
    Customer.objects.filter(pk=customer.pk).update(health_due_at=None)
    old = [TouchPointFactory(customer=customer, due_at=NOW - dt.timedelta(days=8)) for _ in range(5)]
    within_grace = TouchPointFactory(customer__owner=alice, due_at=NOW - dt.timedelta(days=6))
    done = TouchPointFactory(
        customer__owner=alice, due_at=NOW - dt.timedelta(days=20), status=Status.DONE, completed_at=NOW
    )

    assert touchpoints_mark_missed(batch_size=2) == 5
    assert touchpoints_mark_missed() == 0, "re-running marks nothing new"

    assert set(TouchPoint.objects.filter(status=Status.MISSED).values_list("pk", flat=True)) == {t.pk for t in old}
    assert TouchPoint.objects.get(pk=within_grace.pk).status == Status.SCHEDULED
    assert TouchPoint.objects.get(pk=done.pk).status == Status.DONE
    # The customer's health is due for a recompute (the health sweep counts missed check-ups).
    assert Customer.objects.get(pk=customer.pk).health_due_at == NOW


@pytest.mark.django_db
def test_the_missed_command_reports_what_it_marked(alice, frozen, capsys):
    TouchPointFactory(customer__owner=alice, due_at=NOW - dt.timedelta(days=30))

    call_command("mark_missed")

    assert "Marked 1 check-up(s) missed." in capsys.readouterr().out
