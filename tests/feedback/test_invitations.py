"""When survey invitations go out: the three rules, the throttle, the reminder and expiry, with frozen time."""

from __future__ import annotations

import datetime as dt
import logging
import threading

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from aftersales.celery import app
from aftersales.mail.models import OutboxEmail
from feedback.models import Survey, SurveyInvitation, Trigger, hash_token
from feedback.services import invitations
from feedback.services.invitations import (
    invitation_remind,
    invitation_schedule_after_checkup,
    invitation_send,
    invitations_discard_unsendable,
    invitations_plan,
    invitations_remind,
    invitations_send,
)
from feedback.survey_email import tokens_in
from feedback.tasks import survey_invitations_plan_task, survey_invitations_send_task, survey_reminders_send_task
from tests.factories import (
    CustomerFactory,
    ProductFactory,
    PurchaseFactory,
    SurveyFactory,
    SurveyInvitationFactory,
    SurveyResponseFactory,
    TouchPointFactory,
)
from touchpoints.models import Outcome, TouchPoint
from touchpoints.services import touchpoint_complete

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)  # Monday 2 March 2026, 09:00 UTC
DAY = dt.timedelta(days=1)


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def customer(alice):
    return CustomerFactory(owner=alice, name="Carla Cruz", email="carla@example.com", timezone="UTC")


def survey_emails() -> list[OutboxEmail]:
    return list(OutboxEmail.objects.filter(kind=OutboxEmail.Kind.SURVEY).order_by("pk"))


def log_checkup(touchpoint, by, outcome=Outcome.REACHED):
    """The rep logs the check-up; the planner's next run (beat) finds it."""
    logged = touchpoint_complete(touchpoint=touchpoint, by=by, outcome=outcome)
    invitations_plan()
    return logged


# --- After a check-up ------------------------------------------------------------------------


def test_a_survey_goes_out_24_hours_after_a_checkup_whose_step_asks_for_it(clock, alice, customer):
    touchpoint = TouchPointFactory(customer=customer, survey_follows=True)
    log_checkup(touchpoint, alice)

    invitation = SurveyInvitation.objects.get(customer=customer)
    assert invitation.touchpoint == touchpoint
    assert invitation.survey.trigger == Trigger.AFTER_CHECKUP
    assert invitation.send_at == NOW + dt.timedelta(hours=24)
    assert invitation.sent_at is None

    clock.move_to(NOW + dt.timedelta(hours=23, minutes=59))
    assert invitations_send() == 0
    clock.move_to(NOW + dt.timedelta(hours=24))
    assert invitations_send() == 1
    invitation.refresh_from_db()
    assert invitation.sent_at == NOW + dt.timedelta(hours=24)
    assert invitation.expires_at == invitation.sent_at + 28 * DAY
    assert [email.to for email in survey_emails()] == ["carla@example.com"]
    assert invitations_send() == 0, "a sent invitation is never sent again"
    assert len(survey_emails()) == 1


def test_no_survey_after_a_checkup_without_the_flag_or_that_did_not_reach_the_customer(clock, alice, customer):
    log_checkup(TouchPointFactory(customer=customer, survey_follows=False), alice)
    log_checkup(TouchPointFactory(customer=customer, survey_follows=True), alice, outcome=Outcome.NO_ANSWER)
    assert not SurveyInvitation.objects.exists()


def test_a_product_can_change_the_delay_after_a_checkup_or_switch_it_off(clock, alice, customer):
    slow, silent = ProductFactory(), ProductFactory()
    SurveyFactory(trigger=Trigger.AFTER_CHECKUP, product=slow, delay_days=3)
    SurveyFactory(trigger=Trigger.AFTER_CHECKUP, product=silent, active=False)
    other = CustomerFactory(owner=alice)
    log_checkup(
        TouchPointFactory(
            customer=customer, purchase=PurchaseFactory(customer=customer, product=slow), survey_follows=True
        ),
        alice,
    )
    log_checkup(
        TouchPointFactory(
            customer=other, purchase=PurchaseFactory(customer=other, product=silent), survey_follows=True
        ),
        alice,
    )

    assert SurveyInvitation.objects.get(customer=customer).send_at == NOW + 3 * DAY
    assert not SurveyInvitation.objects.filter(customer=other).exists()


# --- After delivery ----------------------------------------------------------------------------


def test_a_survey_goes_out_n_days_after_delivery_per_product(clock, customer, alice):
    quick = ProductFactory(name="Quick")
    SurveyFactory(trigger=Trigger.AFTER_DELIVERY, product=quick, delay_days=7)
    PurchaseFactory(customer=customer, product=quick, ordered_at=NOW.date() - DAY, delivered_at=NOW.date())
    default_customer = CustomerFactory(owner=alice, timezone="Europe/Madrid")
    PurchaseFactory(customer=default_customer, ordered_at=NOW.date() - DAY, delivered_at=NOW.date())

    clock.move_to(NOW + 5 * DAY)
    assert invitations_plan() == 0
    clock.move_to(NOW + 6 * DAY)  # the day before: planned for 10:00 tomorrow, customer time
    assert invitations_plan() == 1
    invitation = SurveyInvitation.objects.get(customer=customer)
    assert invitation.survey.product == quick
    assert invitation.send_at == dt.datetime(2026, 3, 9, 10, 0, tzinfo=dt.UTC)
    assert invitations_plan() == 0, "planning twice plans nothing new"

    clock.move_to(dt.datetime(2026, 3, 9, 9, 59, tzinfo=dt.UTC))
    assert invitations_send() == 0
    clock.move_to(dt.datetime(2026, 3, 9, 10, 0, tzinfo=dt.UTC))
    assert invitations_send() == 1

    # Products without their own survey: the global 14 days, 10:00 in Madrid (09:00 UTC).
    clock.move_to(NOW + 14 * DAY)
    assert invitations_plan() == 1
    invitation = SurveyInvitation.objects.get(customer=default_customer)
    assert invitation.survey.product is None
    assert invitation.send_at == dt.datetime(2026, 3, 16, 9, 0, tzinfo=dt.UTC)


def test_a_delivery_older_than_the_catch_up_window_is_not_surveyed(clock, customer):
    PurchaseFactory(customer=customer, ordered_at=NOW.date() - 40 * DAY, delivered_at=NOW.date() - 30 * DAY)
    assert invitations_plan() == 0


def test_settings_switch_the_global_delivery_rule_off(clock, customer, settings):
    settings.AFTERSALES = {**settings.AFTERSALES, "SURVEY_AFTER_DELIVERY_DAYS": 0}
    PurchaseFactory(customer=customer, ordered_at=NOW.date() - 15 * DAY, delivered_at=NOW.date() - 14 * DAY)
    assert invitations_plan() == 0


# --- Relationship --------------------------------------------------------------------------------


def test_a_relationship_survey_every_90_days(clock, customer):
    PurchaseFactory(customer=customer, ordered_at=NOW.date() - 100 * DAY)
    CustomerFactory(owner=customer.owner)  # no purchase: not a customer to ask yet
    PurchaseFactory(customer=CustomerFactory(owner=customer.owner), ordered_at=NOW.date() - 10 * DAY)  # too recent

    assert invitations_plan() == 1
    first = SurveyInvitation.objects.get()
    assert first.customer == customer and first.survey.trigger == Trigger.RELATIONSHIP
    assert first.send_at == NOW.replace(hour=10)
    clock.move_to(NOW.replace(hour=10))
    assert invitations_send() == 1

    clock.move_to(NOW.replace(hour=10) + 89 * DAY)
    invitations_plan()  # (the newer customer's first one is due by now)
    assert SurveyInvitation.objects.filter(customer=customer).count() == 1
    clock.move_to(NOW.replace(hour=10) + 90 * DAY)
    invitations_plan()
    assert SurveyInvitation.objects.filter(customer=customer).count() == 2


# --- Throttle, opt-out, no email ---------------------------------------------------------------------


def test_at_most_one_survey_per_customer_in_30_days(clock, alice, customer):
    SurveyInvitationFactory(customer=customer, send_at=NOW - 10 * DAY, sent_at=NOW - 10 * DAY)
    PurchaseFactory(customer=customer, ordered_at=NOW.date() - 200 * DAY, delivered_at=NOW.date() - 14 * DAY)

    log_checkup(TouchPointFactory(customer=customer, survey_follows=True), alice)
    assert invitations_plan() == 0
    assert SurveyInvitation.objects.count() == 1

    clock.move_to(NOW + 21 * DAY)  # 31 days after the last one: the relationship survey is due
    assert invitations_plan() == 1


def test_two_due_invitations_of_one_customer_send_one_and_drop_the_other(clock, customer):
    first = SurveyInvitationFactory(customer=customer, send_at=NOW - dt.timedelta(hours=2))
    second = SurveyInvitationFactory(customer=customer, send_at=NOW - dt.timedelta(hours=1))

    assert invitations_send() == 1
    assert len(survey_emails()) == 1
    first.refresh_from_db()
    assert first.sent_at == NOW
    # The next sweep deletes the throttled one: it never had a token, nobody saw it.
    assert invitations_discard_unsendable() == 1
    assert not SurveyInvitation.objects.filter(pk=second.pk).exists()


def test_an_invitation_deleted_after_the_run_read_its_id_is_skipped(clock, customer):
    """Between a run's read of the due ids and its claim, a discard or an erasure may delete the row."""
    invitation = SurveyInvitationFactory(customer=customer, send_at=NOW)
    SurveyInvitation.objects.filter(pk=invitation.pk).delete()

    assert invitation_send(invitation_id=invitation.pk) is False
    assert survey_emails() == []


def test_a_run_stops_at_its_cap_and_the_next_run_sends_the_rest(clock, alice, monkeypatch):
    """A backlog (the jobs were stopped) goes out over several runs, never in one endless run."""
    monkeypatch.setattr(invitations, "MAX_PER_RUN", 4)
    for _ in range(5):
        SurveyInvitationFactory(customer=CustomerFactory(owner=alice), send_at=NOW)

    assert invitations_send(batch_size=2) == 4
    assert invitations_send(batch_size=2) == 1
    assert invitations_send(batch_size=2) == 0
    assert len({email.customer_id for email in survey_emails()}) == 5


@pytest.mark.parametrize("change", [{"email_opt_out": True}, {"email": ""}])
def test_nothing_for_customers_who_opted_out_or_have_no_email(clock, alice, change):
    customer = CustomerFactory(owner=alice, **change)
    PurchaseFactory(customer=customer, ordered_at=NOW.date() - 100 * DAY, delivered_at=NOW.date() - 14 * DAY)
    touchpoint = TouchPointFactory(customer=customer, survey_follows=True)
    log_checkup(touchpoint, alice)

    assert invitations_plan() == 0
    assert not SurveyInvitation.objects.exists()


def test_an_invitation_planned_before_the_customer_unsubscribed_is_never_sent(clock, alice, customer):
    log_checkup(TouchPointFactory(customer=customer, survey_follows=True), alice)
    customer.email_opt_out = True
    customer.save()

    clock.move_to(NOW + 2 * DAY)
    assert invitations_send() == 0
    assert survey_emails() == []
    assert not SurveyInvitation.objects.exists()


def test_the_schedule_service_plans_one_invitation_per_checkup(clock, alice, customer):
    touchpoint = TouchPointFactory(customer=customer, survey_follows=True)
    log_checkup(touchpoint, alice)
    assert invitation_schedule_after_checkup(touchpoint=touchpoint) is None
    assert SurveyInvitation.objects.count() == 1


def test_the_planner_looks_at_each_logged_checkup_once(clock, alice, customer):
    """A check-up it planned for, or decided against (the customer opted out), is never looked at again."""
    opted_out = CustomerFactory(owner=alice, email_opt_out=True)
    planned = TouchPointFactory(customer=customer, survey_follows=True)
    refused = TouchPointFactory(customer=opted_out, survey_follows=True)
    touchpoint_complete(touchpoint=planned, by=alice, outcome=Outcome.REACHED)
    touchpoint_complete(touchpoint=refused, by=alice, outcome=Outcome.REACHED)
    assert TouchPoint.objects.survey_unchecked().count() == 2

    assert invitations_plan() == 1
    assert not TouchPoint.objects.survey_unchecked().exists()
    assert set(TouchPoint.objects.values_list("survey_checked_at", flat=True)) == {NOW}
    assert invitations_plan() == 0
    assert SurveyInvitation.objects.filter(touchpoint=planned).count() == 1
    assert not SurveyInvitation.objects.filter(customer=opted_out).exists()


# --- Reminder and expiry --------------------------------------------------------------------------------


@pytest.fixture
def sent_invitation(clock, customer):
    invitation = SurveyInvitationFactory(customer=customer, survey=SurveyFactory(), send_at=NOW)
    assert invitations_send() == 1
    invitation.refresh_from_db()
    return invitation


def test_one_reminder_to_non_responders_after_3_days_never_twice(clock, sent_invitation):
    clock.move_to(NOW + 3 * DAY - dt.timedelta(minutes=1))
    assert invitations_remind() == 0
    clock.move_to(NOW + 3 * DAY)
    assert invitations_remind() == 1
    clock.move_to(NOW + 10 * DAY)
    assert invitations_remind() == 0

    reminders = OutboxEmail.objects.filter(kind=OutboxEmail.Kind.SURVEY_REMINDER)
    assert reminders.count() == 1
    sent_invitation.refresh_from_db()
    assert sent_invitation.reminded_at == NOW + 3 * DAY
    # The reminder carries the invitation's own links: the first mail's links keep working.
    tokens = set(tokens_in(reminders.get().body_text))
    assert {hash_token(token) for token in tokens} == {sent_invitation.token_hash}


def test_no_reminder_after_an_answer_or_an_unsubscribe(clock, sent_invitation, alice):
    SurveyResponseFactory(invitation=sent_invitation)
    SurveyInvitation.objects.filter(pk=sent_invitation.pk).update(responded_at=NOW + DAY)
    other = SurveyInvitationFactory(customer=CustomerFactory(owner=alice, email_opt_out=True), sent_at=NOW, send_at=NOW)

    clock.move_to(NOW + 4 * DAY)
    assert invitations_remind() == 0
    other.refresh_from_db()
    assert other.reminded_at is None


def test_a_second_worker_reminding_the_same_invitation_sends_nothing(clock, sent_invitation):
    """Two runs read the same id: the conditional UPDATE lets exactly one of them claim the reminder."""
    clock.move_to(NOW + 3 * DAY)

    assert invitation_remind(invitation_id=sent_invitation.pk) is True
    assert invitation_remind(invitation_id=sent_invitation.pk) is False
    assert OutboxEmail.objects.filter(kind=OutboxEmail.Kind.SURVEY_REMINDER).count() == 1


def test_without_its_invitation_mail_no_reminder_goes_out_and_none_is_retried(clock, sent_invitation, caplog):
    """The reminder must carry the links the customer already has: a deleted mail takes them with it."""
    OutboxEmail.objects.filter(kind=OutboxEmail.Kind.SURVEY).delete()
    clock.move_to(NOW + 3 * DAY)

    with caplog.at_level(logging.WARNING, logger=invitations.__name__):
        assert invitations_remind() == 0

    assert f"no reminder for invitation {sent_invitation.pk}" in caplog.text
    sent_invitation.refresh_from_db()
    assert sent_invitation.reminded_at == NOW + 3 * DAY, "the claim stays"
    clock.move_to(NOW + 4 * DAY)
    assert invitations_remind() == 0
    assert not OutboxEmail.objects.filter(kind=OutboxEmail.Kind.SURVEY_REMINDER).exists()


def test_a_reminder_never_borrows_the_links_of_another_surveys_mail(clock, settings, customer, sent_invitation):
    """With a throttle shorter than the reminder delay, a later survey's mail may be the only one in the
    outbox: the first invitation's reminder is dropped rather than sent with the other invitation's token."""
    settings.AFTERSALES = {**settings.AFTERSALES, "SURVEY_THROTTLE_DAYS": 1, "SURVEY_REMINDER_DAYS": 5}
    OutboxEmail.objects.filter(kind=OutboxEmail.Kind.SURVEY).delete()
    clock.move_to(NOW + 2 * DAY)
    later = SurveyInvitationFactory(customer=customer, survey=SurveyFactory(), send_at=NOW + 2 * DAY)
    assert invitations_send() == 1

    clock.move_to(NOW + 5 * DAY)
    assert invitations_remind() == 0
    assert not OutboxEmail.objects.filter(kind=OutboxEmail.Kind.SURVEY_REMINDER).exists()

    clock.move_to(NOW + 7 * DAY)
    assert invitations_remind() == 1  # the later invitation's own reminder
    reminder = OutboxEmail.objects.get(kind=OutboxEmail.Kind.SURVEY_REMINDER)
    later.refresh_from_db()
    assert {hash_token(token) for token in tokens_in(reminder.body_text)} == {later.token_hash}


def test_an_invitation_expires_28_days_after_it_was_sent(clock, sent_invitation, settings):
    settings.AFTERSALES = {**settings.AFTERSALES, "SURVEY_REMINDER_DAYS": 30}
    assert sent_invitation.expires_at == NOW + 28 * DAY
    clock.move_to(NOW + 28 * DAY - dt.timedelta(seconds=1))
    assert SurveyInvitation.objects.pending().filter(pk=sent_invitation.pk).exists()
    clock.move_to(NOW + 28 * DAY)
    assert not SurveyInvitation.objects.pending().filter(pk=sent_invitation.pk).exists()
    assert sent_invitation.is_expired
    clock.move_to(NOW + 30 * DAY)
    assert invitations_remind() == 0, "no reminder for an expired invitation"


def test_a_stale_planned_invitation_is_dropped_not_sent(clock, customer):
    SurveyInvitationFactory(customer=customer, send_at=NOW - 8 * DAY)
    assert invitations_send() == 0
    assert not SurveyInvitation.objects.exists()


# --- Global survey rows, jobs, commands ------------------------------------------------------------------


def test_the_global_surveys_are_created_on_first_use_and_can_be_switched_off(clock, customer):
    PurchaseFactory(customer=customer, ordered_at=NOW.date() - 100 * DAY)
    Survey.objects.create(name="Off", trigger=Trigger.RELATIONSHIP, active=False)
    assert invitations_plan() == 0
    assert Survey.objects.filter(trigger=Trigger.AFTER_DELIVERY, product__isnull=True, active=True).exists()


def test_the_management_commands_run_the_jobs(clock, alice, customer, capsys):
    PurchaseFactory(customer=customer, ordered_at=NOW.date() - 100 * DAY)
    call_command("survey_invitations_plan")
    clock.move_to(NOW.replace(hour=10))
    call_command("survey_invitations_send", "--batch-size", "1")
    clock.move_to(NOW.replace(hour=10) + 3 * DAY)
    call_command("survey_reminders_send")
    assert capsys.readouterr().out.splitlines() == [
        "Planned 1 survey invitation(s).",
        "Sent 1 survey invitation(s).",
        "Sent 1 survey reminder(s).",
    ]


def test_the_tasks_are_thin_and_on_the_beat_schedule(clock, customer):
    PurchaseFactory(customer=customer, ordered_at=NOW.date() - 100 * DAY)
    assert survey_invitations_plan_task() == 1
    clock.move_to(NOW.replace(hour=10))
    assert survey_invitations_send_task() == 1
    assert survey_reminders_send_task() == 0
    scheduled = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert {
        "feedback.tasks.survey_invitations_plan_task",
        "feedback.tasks.survey_invitations_send_task",
        "feedback.tasks.survey_reminders_send_task",
    } <= scheduled


# --- Races and cost ----------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_workers_sending_a_customers_invitations_at_once_send_one_mail(alice):
    """Both claim at the same moment: the customer row lock makes the second wait, then see the first one sent."""
    if connection.vendor != "postgresql":
        pytest.skip("needs two real concurrent connections (PostgreSQL)")
    customer = CustomerFactory(owner=alice)
    rows = [
        SurveyInvitationFactory(customer=customer, send_at=timezone.now() - dt.timedelta(minutes=m)) for m in (1, 2)
    ]
    barrier = threading.Barrier(len(rows) * 2)
    results = []

    def send(invitation_id: int) -> None:
        try:
            barrier.wait()
            results.append(invitation_send(invitation_id=invitation_id))
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(row.pk,)) for row in rows for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(results) == [False, False, False, True]
    assert len(survey_emails()) == 1
    assert SurveyInvitation.objects.filter(sent_at__isnull=False).count() == 1


def test_sending_costs_a_fixed_number_of_queries_per_invitation(clock, alice):
    def sweep(count: int) -> int:
        for _ in range(count):
            SurveyInvitationFactory(customer=CustomerFactory(owner=alice), send_at=NOW)
        with CaptureQueriesContext(connection) as queries:
            assert invitations_send() == count
        return len(queries)

    one, five = sweep(1), sweep(5)
    assert (five - one) / 4 <= 10, "per-invitation work must not grow with the batch"
