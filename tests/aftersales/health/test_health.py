"""The health score: explainable, recomputed only for customers whose signals changed."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from aftersales.health.services import Signals, customer_signals, health_next_due, health_recompute, health_score
from aftersales.risk.tasks import health_recompute_task
from customers.models import Customer, FlagReason, HealthBand, health_band_for
from tests.factories import (
    CustomerFactory,
    PurchaseFactory,
    RiskFlagFactory,
    SurveyResponseFactory,
    TouchPointFactory,
)
from touchpoints.models import Outcome, Status
from touchpoints.services import touchpoint_complete

NOW = dt.datetime(2025, 6, 10, 9, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


@pytest.fixture(autouse=True)
def frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield NOW


# --- The score (pure) --------------------------------------------------------------------------


def test_a_customer_with_no_signals_scores_the_base():
    assert health_score(Signals(), now=NOW) == (80, [])


def test_each_signal_moves_the_score_and_says_why():
    signals = Signals(
        last_contact_at=NOW - 52 * DAY,
        quiet_after=NOW - 7 * DAY,
        overdue=2,
        missed=1,
        temperatures=[2, 3, 4],
        nps=5,
        csat=2,
        open_problems=1,
        renewal_date=NOW.date() + 20 * DAY,
    )

    score, explanation = health_score(signals, now=NOW)

    assert explanation == [
        {"points": -30, "reason": "52 days without contact"},
        {"points": -10, "reason": "2 check-ups overdue"},
        {"points": -10, "reason": "1 check-up missed"},
        {"points": -20, "reason": "Cold at the last check-up (2/5)"},
        {"points": -10, "reason": "Temperature falling: 4 → 3 → 2"},
        {"points": -25, "reason": "Latest NPS 5 (detractor)"},
        {"points": -15, "reason": "Latest CSAT 2/5"},
        {"points": -15, "reason": "1 open problem"},
        {"points": -15, "reason": "Renewal in 20 days, no contact for 52 days"},
    ]
    assert score == 0  # 80 − 150, clamped
    assert health_band_for(score) == HealthBand.RED


def test_a_happy_customer_scores_green():
    signals = Signals(last_contact_at=NOW - 5 * DAY, quiet_after=NOW + 40 * DAY, temperatures=[5], nps=10, csat=5)

    score, explanation = health_score(signals, now=NOW)

    assert score == 100  # 80 + 5 + 10 + 5
    assert [move["points"] for move in explanation] == [5, 10, 5]
    assert health_band_for(score) == HealthBand.GREEN


def test_capped_signals_stop_at_their_maximum():
    _, explanation = health_score(Signals(overdue=7, missed=5, open_problems=4), now=NOW)

    assert [move["points"] for move in explanation] == [-15, -20, -30]


def test_a_customer_close_to_their_quiet_date_loses_a_little():
    # Threshold 45 days, 33 gone: less than a third (15 days) left.
    signals = Signals(last_contact_at=NOW - 33 * DAY, quiet_after=NOW + 12 * DAY)

    assert health_score(signals, now=NOW) == (
        70,
        [{"points": -10, "reason": "33 days since the last contact; quiet in 12 days"}],
    )


def test_a_renewal_with_recent_contact_counts_little():
    signals = Signals(last_contact_at=NOW - 3 * DAY, quiet_after=NOW + 42 * DAY, renewal_date=NOW.date() + 30 * DAY)

    assert health_score(signals, now=NOW)[1] == [{"points": -5, "reason": "Renewal in 30 days"}]


def test_the_weights_come_from_one_settings_dict(settings):
    settings.AFTERSALES = {
        **settings.AFTERSALES,
        "HEALTH_WEIGHTS": {**settings.AFTERSALES["HEALTH_WEIGHTS"], "base": 70, "nps_detractor": -40},
    }

    assert health_score(Signals(nps=3), now=NOW) == (30, [{"points": -40, "reason": "Latest NPS 3 (detractor)"}])


def test_the_next_due_time_is_the_next_moment_a_signal_moves_by_itself():
    signals = Signals(last_contact_at=NOW - 10 * DAY, quiet_after=NOW + 35 * DAY, next_due_at=NOW + 50 * DAY)
    # A third of 45 days before the quiet date: 20 days from now.
    assert health_next_due(signals, now=NOW) == NOW + 20 * DAY

    signals.next_due_at = NOW + 3 * DAY
    assert health_next_due(signals, now=NOW) == NOW + 3 * DAY

    assert health_next_due(Signals(), now=NOW) is None


# --- Signals from the database -----------------------------------------------------------------


@pytest.mark.django_db
def test_signals_are_read_for_a_whole_batch_in_a_fixed_number_of_queries(alice):
    def queries(n: int) -> int:
        ids = []
        for _ in range(n):
            customer = CustomerFactory(owner=alice)
            TouchPointFactory(customer=customer, due_at=NOW - DAY)
            SurveyResponseFactory(invitation__customer=customer, nps=3)
            ids.append(customer.pk)
        with CaptureQueriesContext(connection) as ctx:
            customer_signals(ids, now=NOW)
        return len(ctx.captured_queries)

    assert queries(2) == queries(20) == 7


@pytest.mark.django_db
def test_signals_read_the_latest_answers_and_the_last_three_temperatures(alice):
    customer = CustomerFactory(owner=alice)
    for days_ago, temperature in ((40, 5), (30, 4), (20, 3), (10, 2)):
        when = NOW - days_ago * DAY
        TouchPointFactory(
            customer=customer, due_at=when, status=Status.DONE, completed_at=when, temperature=temperature
        )
    TouchPointFactory(customer=customer, due_at=NOW - 2 * DAY)  # overdue
    TouchPointFactory(customer=customer, due_at=NOW + 3 * DAY)  # next due
    TouchPointFactory(customer=customer, due_at=NOW - 20 * DAY, status=Status.MISSED)
    SurveyResponseFactory(invitation__customer=customer, nps=10, csat=5, submitted_at=NOW - 30 * DAY)
    SurveyResponseFactory(invitation__customer=customer, nps=4, csat=None, submitted_at=NOW - 5 * DAY)
    RiskFlagFactory(customer=customer, reason=FlagReason.PROBLEM_REPORTED)
    RiskFlagFactory(customer=customer, reason=FlagReason.GONE_QUIET)  # not a problem
    PurchaseFactory(customer=customer, renewal_date=NOW.date() + 40 * DAY)
    PurchaseFactory(customer=customer, renewal_date=NOW.date() - 40 * DAY)

    signals = customer_signals([customer.pk], now=NOW)[customer.pk]

    assert signals.temperatures == [2, 3, 4]
    assert (signals.overdue, signals.next_due_at, signals.missed) == (1, NOW + 3 * DAY, 1)
    assert (signals.nps, signals.csat) == (4, 5)  # the latest answer of each question
    assert signals.open_problems == 1
    assert signals.renewal_date == NOW.date() + 40 * DAY


# --- Recomputing ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_new_customers_are_due_and_get_a_score_with_its_explanation(alice):
    customer = CustomerFactory(owner=alice, last_contact_at=NOW - 52 * DAY, quiet_after=NOW - 7 * DAY)

    assert health_recompute() == 1

    customer.refresh_from_db()
    assert customer.health_score == 50
    assert customer.health_band == HealthBand.RED
    assert customer.health_explanation == [{"points": -30, "reason": "52 days without contact"}]
    assert customer.health_updated_at == NOW
    assert customer.health_due_at is None  # nothing moves with time alone any more


@pytest.mark.django_db
def test_only_customers_whose_signals_changed_are_recomputed(alice):
    unchanged = CustomerFactory(owner=alice)
    changed = CustomerFactory(owner=alice)
    checkup = TouchPointFactory(customer=changed, due_at=NOW + 2 * DAY)
    health_recompute()
    before = Customer.objects.get(pk=unchanged.pk)

    later = NOW + 3 * DAY
    with time_machine.travel(later, tick=False):
        touchpoint_complete(touchpoint=checkup, by=alice, outcome=Outcome.REACHED, temperature=1)
        assert health_recompute() == 1

    changed.refresh_from_db()
    assert changed.health_score == 60  # 80 − 20 (cold)
    assert changed.health_updated_at == later
    assert Customer.objects.get(pk=unchanged.pk).health_updated_at == before.health_updated_at == NOW


@pytest.mark.django_db
def test_time_alone_makes_a_customer_due_when_a_signal_moves(alice):
    customer = CustomerFactory(owner=alice, last_contact_at=NOW - 40 * DAY, quiet_after=NOW + 5 * DAY)
    health_recompute()
    customer.refresh_from_db()
    assert customer.health_score == 70  # quiet soon
    assert customer.health_due_at == NOW + 5 * DAY

    with time_machine.travel(NOW + 4 * DAY, tick=False):
        assert health_recompute() == 0
    with time_machine.travel(NOW + 6 * DAY, tick=False):
        assert health_recompute() == 1

    customer.refresh_from_db()
    assert customer.health_score == 50
    assert customer.health_explanation == [{"points": -30, "reason": "46 days without contact"}]


@pytest.mark.django_db
def test_a_change_during_the_computation_keeps_the_customer_due(alice, monkeypatch):
    """The write is conditional on the due time the batch read: a newer change is never overwritten."""
    customer = CustomerFactory(owner=alice)
    real = customer_signals

    def change_meanwhile(ids, *, now):
        found = real(ids, now=now)
        with time_machine.travel(NOW + dt.timedelta(seconds=1), tick=False):
            Customer.objects.filter(pk=customer.pk).mark_health_due()
        return found

    monkeypatch.setattr("aftersales.health.services.customer_signals", change_meanwhile)
    assert health_recompute() == 0
    monkeypatch.undo()

    customer.refresh_from_db()
    assert customer.health_score is None
    with time_machine.travel(NOW + dt.timedelta(seconds=2), tick=False):
        assert health_recompute() == 1


@pytest.mark.django_db
def test_batches_cover_every_due_customer(alice):
    customers = [CustomerFactory(owner=alice) for _ in range(7)]

    assert health_recompute(batch_size=3) == 7
    assert not Customer.objects.filter(pk__in=[c.pk for c in customers], health_score__isnull=True).exists()


@pytest.mark.django_db
def test_a_limit_leaves_the_rest_due_for_the_next_run(alice):
    for _ in range(5):
        CustomerFactory(owner=alice)

    assert health_recompute(batch_size=2, limit=3) == 4  # whole batches: stops once 3 are done
    assert Customer.objects.filter(health_score__isnull=True).count() == 1
    assert health_recompute(batch_size=2, limit=3) == 1


@pytest.mark.django_db
def test_the_writes_that_change_signals_mark_the_customer_due(alice):
    customer = CustomerFactory(owner=alice)
    checkup = TouchPointFactory(customer=customer, due_at=NOW + DAY)
    health_recompute()
    customer.refresh_from_db()
    assert customer.health_due_at == NOW + DAY  # when the check-up falls due

    later = NOW + dt.timedelta(hours=1)
    with time_machine.travel(later, tick=False):
        touchpoint_complete(touchpoint=checkup, by=alice, outcome=Outcome.NO_ANSWER)
    customer.refresh_from_db()
    assert customer.health_due_at == later


@pytest.mark.django_db
def test_the_command_and_the_task_recompute(alice, capsys):
    CustomerFactory(owner=alice)
    call_command("health_recompute")
    assert health_recompute_task() == 0
    call_command("health_recompute", "--all")

    assert capsys.readouterr().out.splitlines() == ["Recomputed 1 health score(s).", "Recomputed 1 health score(s)."]


@pytest.mark.django_db
def test_the_customer_page_shows_the_stored_explanation(alice, alice_client):
    customer = CustomerFactory(owner=alice, last_contact_at=NOW - 52 * DAY, quiet_after=NOW - 7 * DAY)
    health_recompute()

    page = alice_client.get(customer.get_absolute_url()).content.decode()

    assert "52 days without contact" in page
    assert "−30" in page


# --- Open complaints are never green (docs/HEALTH.md) -------------------------------------------


@pytest.mark.parametrize("reason", [FlagReason.DETRACTOR, FlagReason.LOW_CSAT, FlagReason.PROBLEM_REPORTED])
def test_an_open_complaint_keeps_a_happy_customer_out_of_green(reason):
    signals = Signals(
        last_contact_at=NOW - 5 * DAY, quiet_after=NOW + 40 * DAY, temperatures=[5], nps=10, csat=5,
        open_unresolved=[reason],
    )  # fmt: skip

    score, explanation = health_score(signals, now=NOW)

    assert score == 75 and health_band_for(score) == HealthBand.YELLOW
    assert explanation[-1]["reason"].endswith("not green until resolved")
    assert 80 + sum(move["points"] for move in explanation) == 75, "the explanation still adds up"


def test_other_open_flags_do_not_cap_the_score():
    signals = Signals(last_contact_at=NOW - 5 * DAY, quiet_after=NOW + 40 * DAY, nps=10, open_unresolved=[])
    assert health_score(signals, now=NOW)[0] == 90


def test_raising_a_detractor_flag_shows_yellow_on_the_next_page_view(alice, alice_client):
    from customers.services import riskflag_raise

    customer = CustomerFactory(owner=alice, last_contact_at=NOW - DAY, quiet_after=NOW + 40 * DAY)
    SurveyResponseFactory(invitation__customer=customer, nps=10, csat=5)
    health_recompute()
    customer.refresh_from_db()
    assert customer.health_band == HealthBand.GREEN

    riskflag_raise(customer=customer, reason=FlagReason.DETRACTOR, detail="NPS 2 on the second survey")
    page = alice_client.get(customer.get_absolute_url()).content.decode()

    assert "75" in page and "not green until resolved" in page, "the page shows the score as it is now"
    customer.refresh_from_db()
    assert customer.health_band == HealthBand.GREEN, "a GET writes nothing: the sweep stores the new score"
    health_recompute()
    customer.refresh_from_db()
    assert customer.health_score == 75 and customer.health_band == HealthBand.YELLOW
