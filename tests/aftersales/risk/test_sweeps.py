"""The risk sweeps: gone quiet, renewal near with no contact, falling temperature, and the owner's email."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from aftersales.mail.models import OutboxEmail
from aftersales.risk.sweeps import (
    riskflag_notify_owners,
    riskflag_sweep_cold_temperature,
    riskflag_sweep_gone_quiet,
    riskflag_sweep_renewal_no_contact,
    sweep_quiet,
    sweep_risks,
)
from aftersales.risk.tasks import sweep_quiet_task, sweep_risks_task
from customers.models import FlagReason, RiskFlag
from customers.services import customer_record_two_way_contact
from feedback.services.answers import Answer, survey_response_record
from tests.factories import (
    CustomerFactory,
    PurchaseFactory,
    RiskFlagFactory,
    SurveyInvitationFactory,
    TouchPointFactory,
)
from touchpoints.models import Outcome, Status
from touchpoints.services import touchpoint_complete

NOW = dt.datetime(2025, 6, 10, 9, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield NOW


def quiet_customer(owner, *, silent_days: int = 52, threshold: int = 45, **fields):
    last = NOW - silent_days * DAY
    return CustomerFactory(owner=owner, last_contact_at=last, quiet_after=last + threshold * DAY, **fields)


def open_flags(reason: str = FlagReason.GONE_QUIET):
    return RiskFlag.objects.open().filter(reason=reason)


# --- Gone quiet ---------------------------------------------------------------------------------


def test_customers_past_their_quiet_date_are_flagged_with_the_days_of_silence(alice):
    ana = quiet_customer(alice, silent_days=52, name="Ana")
    quiet_customer(alice, silent_days=30, name="Not yet")  # quiet after 45 days: 15 to go
    CustomerFactory(owner=alice, quiet_after=None, name="Never sold")

    result = riskflag_sweep_gone_quiet()

    assert result.flagged == 1
    flag = open_flags().get()
    assert flag.customer == ana
    assert flag.detail == "No two-way contact for 52 days (quiet after 45)"
    assert flag.data["days_silent"] == 52
    assert flag.data["threshold_days"] == 45
    assert flag.raised_at == NOW
    assert flag.owner_notified_at is None


def test_a_quiet_customer_with_no_contact_on_record_counts_silence_from_when_they_became_a_customer(alice):
    customer = CustomerFactory(owner=alice, quiet_after=NOW - DAY)
    customer.__class__.objects.filter(pk=customer.pk).update(created_at=NOW - 60 * DAY)

    riskflag_sweep_gone_quiet()

    flag = open_flags().get()
    assert flag.data["days_silent"] == 60
    assert flag.detail == "No two-way contact on record in 60 days as a customer"


def test_re_running_flags_nothing_new_and_keeps_the_first_flag(alice):
    customers = [quiet_customer(alice) for _ in range(3)]
    assert riskflag_sweep_gone_quiet().flagged == 3
    first = set(open_flags().values_list("pk", flat=True))

    with time_machine.travel(NOW + dt.timedelta(hours=1), tick=False):
        again = riskflag_sweep_gone_quiet()

    assert again.flagged == 0
    assert set(open_flags().values_list("pk", flat=True)) == first
    assert RiskFlag.objects.count() == len(customers)


def test_small_id_batches_flag_every_quiet_customer(alice, bob):
    quiet = [quiet_customer(owner) for owner in (alice, bob) * 4]
    CustomerFactory(owner=alice)  # not quiet, in the middle of the id range

    assert riskflag_sweep_gone_quiet(batch_ids=3).flagged == len(quiet)
    assert set(open_flags().values_list("customer_id", flat=True)) == {c.pk for c in quiet}


def test_the_sweep_costs_the_same_queries_for_3_or_30_customers(alice):
    def queries(n: int) -> int:
        for _ in range(n):
            quiet_customer(alice)
        with CaptureQueriesContext(connection) as ctx:
            riskflag_sweep_gone_quiet(batch_ids=1_000_000)
        RiskFlag.objects.all().delete()
        return len(ctx.captured_queries)

    assert queries(3) == queries(30)


def test_a_customer_whose_flag_was_resolved_but_is_still_quiet_is_flagged_again(alice):
    customer = quiet_customer(alice)
    RiskFlagFactory(customer=customer, raised_at=NOW - 10 * DAY, resolved_at=NOW - 5 * DAY)

    assert riskflag_sweep_gone_quiet().flagged == 1
    assert customer.flags.count() == 2


def test_a_reached_check_up_clears_the_flag_and_the_customer_is_not_flagged_again(alice):
    customer = quiet_customer(alice)
    riskflag_sweep_gone_quiet()
    checkup = TouchPointFactory(customer=customer, due_at=NOW - dt.timedelta(hours=2))

    touchpoint_complete(touchpoint=checkup, by=alice, outcome=Outcome.REACHED, temperature=4)

    flag = customer.flags.get()
    assert flag.resolved_at == NOW
    assert flag.resolution == "Two-way contact logged."
    assert riskflag_sweep_gone_quiet().flagged == 0
    assert not open_flags().exists()


def test_an_unanswered_call_does_not_clear_the_flag(alice):
    customer = quiet_customer(alice)
    riskflag_sweep_gone_quiet()
    checkup = TouchPointFactory(customer=customer, due_at=NOW - dt.timedelta(hours=2))

    touchpoint_complete(touchpoint=checkup, by=alice, outcome=Outcome.NO_ANSWER)

    assert open_flags().filter(customer=customer).exists()


def test_a_survey_answer_is_two_way_contact_it_clears_the_flag_and_restarts_the_products_clock(alice):
    """The customer answered (no user): the answer path moves the clock by the shortest product threshold."""
    customer = quiet_customer(alice)
    PurchaseFactory(customer=customer, product__quiet_threshold_days=20)
    PurchaseFactory(customer=customer, product__quiet_threshold_days=90)
    riskflag_sweep_gone_quiet()
    invitation = SurveyInvitationFactory(customer=customer)

    survey_response_record(invitation=invitation, answer=Answer(nps=9))

    assert not open_flags().exists()
    assert riskflag_sweep_gone_quiet().flagged == 0
    customer.refresh_from_db()
    assert (customer.last_contact_at, customer.quiet_after) == (NOW, NOW + 20 * DAY)
    assert RiskFlag.objects.get(customer=customer).resolution == "Two-way contact logged."


def test_a_survey_answer_from_a_customer_with_no_purchase_uses_the_default_quiet_threshold(alice, settings):
    customer = quiet_customer(alice)
    invitation = SurveyInvitationFactory(customer=customer)

    survey_response_record(invitation=invitation, answer=Answer(nps=9))

    customer.refresh_from_db()
    assert customer.quiet_after == NOW + settings.AFTERSALES["QUIET_AFTER_DAYS"] * DAY


def test_a_flag_whose_customer_is_no_longer_quiet_is_resolved_by_the_hourly_risks_job(alice):
    customer = quiet_customer(alice)
    riskflag_sweep_gone_quiet()
    type(customer).objects.filter(pk=customer.pk).update(last_contact_at=NOW, quiet_after=NOW + 45 * DAY)

    assert riskflag_sweep_gone_quiet().flagged == 0
    result = sweep_risks()  # the hourly job

    assert (result.flagged, result.resolved) == (0, 1)
    assert customer.flags.get().resolution == "No longer quiet: contact recorded."


# --- Telling the owner -------------------------------------------------------------------------


def test_each_owner_gets_one_email_listing_their_newly_quiet_customers(alice, bob):
    quiet_customer(alice, name="Ana Alves", silent_days=50)
    quiet_customer(alice, name="Bea Brito", silent_days=61)
    quiet_customer(bob, name="Carl Cruz")

    result = sweep_quiet()

    assert (result.flagged, result.emails) == (3, 2)
    to_alice = OutboxEmail.objects.get(to=alice.email)
    assert to_alice.subject == "2 of your customers need attention"
    assert to_alice.kind == OutboxEmail.Kind.NOTIFICATION
    assert "Ana Alves" in to_alice.body_text and "No two-way contact for 50 days (quiet after 45)" in to_alice.body_text
    assert "Bea Brito" in to_alice.body_text and "61 days" in to_alice.body_text
    assert "Carl Cruz" not in to_alice.body_text
    assert "Ana Alves" in to_alice.body_html and "Gone quiet" in to_alice.body_html
    to_bob = OutboxEmail.objects.get(to=bob.email)
    assert to_bob.subject == "Carl Cruz needs attention: gone quiet"
    assert not RiskFlag.objects.filter(owner_notified_at__isnull=True).exists()


def test_the_owner_is_told_once(alice):
    quiet_customer(alice)
    sweep_quiet()
    with time_machine.travel(NOW + dt.timedelta(hours=1), tick=False):
        again = sweep_quiet()

    assert again.emails == 0
    assert OutboxEmail.objects.count() == 1


def test_a_customer_going_quiet_later_brings_one_more_email_about_them_only(alice):
    quiet_customer(alice, name="First")
    sweep_quiet()
    later = NOW + 10 * DAY
    CustomerFactory(owner=alice, name="Second", last_contact_at=NOW - 40 * DAY, quiet_after=NOW + 5 * DAY)

    with time_machine.travel(later, tick=False):
        result = sweep_quiet()

    assert (result.flagged, result.emails) == (1, 1)
    latest = OutboxEmail.objects.order_by("-pk").first()
    assert latest.subject == "Second needs attention: gone quiet"
    assert "First" not in latest.body_text


def test_customer_names_are_escaped_in_the_html_email(alice):
    quiet_customer(alice, name="<script>alert(1)</script>", company="A & B")
    sweep_quiet()

    email = OutboxEmail.objects.get()
    assert "<script>" not in email.body_html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in email.body_html
    assert "A &amp; B" in email.body_html
    assert "<script>alert(1)</script>" in email.body_text  # plain text is not HTML


def test_a_long_list_is_cut_with_a_count_of_the_rest(alice, monkeypatch):
    monkeypatch.setattr("aftersales.risk.sweeps.EMAIL_LIST_LIMIT", 2)
    for _ in range(5):
        quiet_customer(alice)
    sweep_quiet()

    body = OutboxEmail.objects.get().body_text
    assert body.count("No two-way contact for") == 2
    assert "- and 3 more" in body


def test_a_rolled_back_notification_leaves_the_flags_unclaimed_and_no_email(alice, monkeypatch):
    quiet_customer(alice)
    riskflag_sweep_gone_quiet()

    def broken(*args, **kwargs):
        raise RuntimeError("template error")

    monkeypatch.setattr("aftersales.risk.sweeps.outbox_enqueue", broken)
    with pytest.raises(RuntimeError):
        riskflag_notify_owners()

    assert OutboxEmail.objects.count() == 0
    assert RiskFlag.objects.get().owner_notified_at is None
    monkeypatch.undo()
    assert riskflag_notify_owners() == 1


def test_an_owner_without_an_email_address_is_skipped_without_failing(alice, bob):
    alice.email = ""
    alice.save()
    quiet_customer(alice)
    quiet_customer(bob)

    assert sweep_quiet().emails == 1
    assert OutboxEmail.objects.get().to == bob.email


# --- Renewal near, no contact ------------------------------------------------------------------


def renewal(customer, days_ahead: int):
    return PurchaseFactory(customer=customer, renewal_date=NOW.date() + days_ahead * DAY)


def test_a_renewal_within_60_days_and_no_contact_for_30_is_flagged(alice):
    silent = CustomerFactory(owner=alice, last_contact_at=NOW - 40 * DAY)
    renewal(silent, 20)
    renewal(silent, 50)  # the nearest renewal is the one reported
    recent = CustomerFactory(owner=alice, last_contact_at=NOW - 10 * DAY)
    renewal(recent, 20)
    far = CustomerFactory(owner=alice, last_contact_at=NOW - 40 * DAY)
    renewal(far, 90)
    past = CustomerFactory(owner=alice, last_contact_at=NOW - 40 * DAY)
    renewal(past, -1)
    never = CustomerFactory(owner=alice, last_contact_at=None)
    renewal(never, 60)

    result = riskflag_sweep_renewal_no_contact()

    assert result.flagged == 2
    flags = {flag.customer_id: flag for flag in open_flags(FlagReason.RENEWAL_NO_CONTACT)}
    assert set(flags) == {silent.pk, never.pk}
    assert flags[silent.pk].detail == (
        f"Renewal on {NOW.date() + 20 * DAY:%Y-%m-%d} (in 20 days), no two-way contact for 40 days"
    )
    assert flags[silent.pk].data["days_to_renewal"] == 20
    assert flags[silent.pk].data["days_silent"] == 40
    assert flags[never.pk].detail.endswith("(in 60 days), no two-way contact on record")
    assert riskflag_sweep_renewal_no_contact().flagged == 0


def test_a_renewal_flag_is_resolved_by_contact_or_when_the_renewal_passes(alice):
    contacted = CustomerFactory(owner=alice, last_contact_at=NOW - 40 * DAY)
    renewal(contacted, 20)
    renewed = CustomerFactory(owner=alice, last_contact_at=NOW - 40 * DAY)
    renewal(renewed, 2)
    riskflag_sweep_renewal_no_contact()

    customer_record_two_way_contact(customer=contacted, at=NOW + DAY, by=alice)
    with time_machine.travel(NOW + 5 * DAY, tick=False):
        result = riskflag_sweep_renewal_no_contact()

    assert result.resolved == 2
    assert contacted.flags.get().resolution == "Two-way contact since the flag."
    assert renewed.flags.get().resolution == "No renewal within the window any more."


def test_the_renewal_window_and_contact_gap_are_settings(alice, settings):
    settings.AFTERSALES = {**settings.AFTERSALES, "RENEWAL_WINDOW_DAYS": 10, "RENEWAL_CONTACT_DAYS": 5}
    customer = CustomerFactory(owner=alice, last_contact_at=NOW - 7 * DAY)
    renewal(customer, 9)
    other = CustomerFactory(owner=alice, last_contact_at=NOW - 7 * DAY)
    renewal(other, 11)

    assert riskflag_sweep_renewal_no_contact().flagged == 1
    assert open_flags(FlagReason.RENEWAL_NO_CONTACT).get().customer == customer


# --- Falling temperature -------------------------------------------------------------------------


def readings(customer, *temperatures: int, start_days_ago: int = 90):
    """Done check-ups with these temperatures, oldest first, a week apart."""
    for i, temperature in enumerate(temperatures):
        when = NOW - (start_days_ago - 7 * i) * DAY
        TouchPointFactory(
            customer=customer, due_at=when, status=Status.DONE, completed_at=when, temperature=temperature
        )


@pytest.mark.parametrize(
    ("temperatures", "flagged"),
    [
        ((4, 3, 2), True),
        ((5, 5, 4, 3, 1), True),  # only the last three count
        ((4, 4, 2), False),  # not strictly falling
        ((2, 3, 4), False),
        ((4, 2, 3), False),
        ((5, 3), False),  # fewer than three readings
        ((3, 2, 1, 4), False),  # warmed up at the last one
    ],
)
def test_a_strictly_falling_temperature_over_the_last_three_check_ups_is_flagged(alice, temperatures, flagged):
    customer = CustomerFactory(owner=alice)
    readings(customer, *temperatures)
    # Check-ups without a temperature and not done do not count.
    TouchPointFactory(customer=customer, due_at=NOW - DAY, status=Status.DONE, completed_at=NOW - DAY)
    TouchPointFactory(customer=customer, due_at=NOW + DAY, temperature=5)

    assert riskflag_sweep_cold_temperature().flagged == int(flagged)
    if flagged:
        *_, t3, t2, t1 = temperatures
        flag = open_flags(FlagReason.COLD_TEMPERATURE).get()
        assert flag.detail == f"Temperature falling over the last three check-ups: {t3} → {t2} → {t1}"
        assert flag.data == {"temperatures": [t3, t2, t1]}


def test_a_cold_temperature_flag_is_resolved_when_a_newer_reading_ends_the_fall(alice):
    warming = CustomerFactory(owner=alice)
    readings(warming, 4, 3, 2)
    still_falling = CustomerFactory(owner=alice)
    readings(still_falling, 5, 4, 3)
    riskflag_sweep_cold_temperature()

    later = NOW + DAY
    with time_machine.travel(later, tick=False):
        TouchPointFactory(customer=warming, due_at=later, status=Status.DONE, completed_at=later, temperature=3)
        TouchPointFactory(customer=still_falling, due_at=later, status=Status.DONE, completed_at=later, temperature=2)
        result = riskflag_sweep_cold_temperature()

    assert (result.flagged, result.resolved) == (0, 1)
    assert warming.flags.get().resolution == "Temperature no longer falling."
    assert still_falling.flags.get().is_open


def test_the_risks_job_notifies_owners_of_renewal_and_temperature_flags_in_one_email(alice):
    customer = CustomerFactory(owner=alice, name="Dora Dias", last_contact_at=NOW - 40 * DAY)
    renewal(customer, 20)
    readings(customer, 4, 3, 2)

    result = sweep_risks()

    assert (result.flagged, result.emails) == (2, 1)
    email = OutboxEmail.objects.get()
    assert email.subject == "Dora Dias needs attention: renewal near, no contact"
    assert "Renewal near, no contact" in email.body_text and "Cold temperature" in email.body_text


# --- Commands and tasks ----------------------------------------------------------------------------


def test_the_commands_run_the_same_jobs(alice, capsys):
    quiet_customer(alice)
    call_command("sweep_quiet")
    call_command("sweep_risks")
    call_command("sweep_quiet")

    out = capsys.readouterr().out.splitlines()
    assert out == [
        "Gone quiet: 1 flagged, 0 resolved, 1 owner email(s).",
        "Renewals and temperatures: 0 flagged, 0 resolved, 0 owner email(s).",
        "Gone quiet: 0 flagged, 0 resolved, 0 owner email(s).",
    ]


def test_the_tasks_run_the_same_jobs(alice):
    quiet_customer(alice)
    assert sweep_quiet_task() == "1 flagged, 0 resolved, 1 owner email(s)"
    assert sweep_risks_task() == "0 flagged, 0 resolved, 0 owner email(s)"


def test_the_beat_schedule_runs_each_job():
    from aftersales.celery import app

    tasks = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert {
        "aftersales.risk.tasks.sweep_quiet_task",
        "aftersales.risk.tasks.sweep_risks_task",
        "aftersales.risk.tasks.health_recompute_task",
    } <= tasks
