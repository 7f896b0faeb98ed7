"""The rep's morning digest and the manager's weekly summary: once per period, only with something in it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command

from aftersales.core.models import UserProfile
from aftersales.mail.models import OutboxEmail
from aftersales.myday.digests import digests_send, weekly_summaries_send
from aftersales.myday.tasks import digests_send_task, weekly_summaries_send_task
from tests.factories import (
    CustomerFactory,
    ManagerFactory,
    RiskFlagFactory,
    SurveyResponseFactory,
    TouchPointFactory,
)
from touchpoints.models import Status

# Monday 2 March 2026.
MORNING = dt.datetime(2026, 3, 2, 9, 5, tzinfo=dt.UTC)


def digests() -> list[OutboxEmail]:
    return list(OutboxEmail.objects.filter(kind=OutboxEmail.Kind.DIGEST).order_by("pk"))


@pytest.mark.django_db
def test_the_morning_digest_lists_due_today_overdue_at_risk_and_new_answers(alice, bob, time_machine):
    time_machine.move_to(MORNING, tick=False)
    TouchPointFactory(customer__owner=alice, customer__name="Due Today Co", due_at=MORNING + dt.timedelta(hours=3))
    TouchPointFactory(customer__owner=alice, customer__name="Late & Co", due_at=MORNING - dt.timedelta(days=2))
    RiskFlagFactory(customer=CustomerFactory(owner=alice, name="Quiet Customer"))
    SurveyResponseFactory(
        customer=CustomerFactory(owner=alice, name="Fresh Answer"), nps=3, submitted_at=MORNING - dt.timedelta(hours=2)
    )
    TouchPointFactory(customer__owner=bob, customer__name="Bob's Customer", due_at=MORNING)

    assert digests_send() == 2

    by_rep = {email.to: email for email in digests()}
    text = by_rep[alice.email].body_text
    for name in ("Due Today Co", "Late & Co", "Quiet Customer", "Fresh Answer"):
        assert name in text
    assert "NPS 3" in text
    assert "12:05" in text, "due time on the rep's clock"
    assert "Bob's Customer" not in text
    assert "Late &amp; Co" in by_rep[alice.email].body_html
    assert "Bob&#x27;s Customer" in by_rep[bob.email].body_html


@pytest.mark.django_db
def test_one_digest_per_rep_per_day_however_often_the_job_runs(alice, time_machine):
    time_machine.move_to(MORNING, tick=False)
    TouchPointFactory(customer__owner=alice, due_at=MORNING + dt.timedelta(hours=1))

    assert digests_send() == 1
    time_machine.move_to(MORNING + dt.timedelta(hours=3), tick=False)
    assert digests_send() == 0
    assert len(digests()) == 1

    time_machine.move_to(MORNING + dt.timedelta(days=1), tick=False)
    assert digests_send() == 1, "the next day brings the next digest (the check-up is now overdue)"
    assert len({email.message_id for email in digests()}) == 2


@pytest.mark.django_db
def test_no_digest_when_there_is_nothing_in_it(alice, time_machine):
    time_machine.move_to(MORNING, tick=False)
    TouchPointFactory(customer__owner=alice, due_at=MORNING + dt.timedelta(days=3))  # not today
    TouchPointFactory(
        customer__owner=alice, due_at=MORNING - dt.timedelta(days=1), status=Status.DONE, completed_at=MORNING
    )

    assert digests_send() == 0
    assert digests() == []


@pytest.mark.django_db
def test_the_digest_waits_for_the_reps_workday_in_their_time_zone(alice, time_machine):
    UserProfile.objects.create(user=alice, timezone="America/New_York", workday_start="08:00", workday_end="17:00")
    TouchPointFactory(customer__owner=alice, due_at=dt.datetime(2026, 3, 2, 18, 0, tzinfo=dt.UTC))
    time_machine.move_to(dt.datetime(2026, 3, 2, 12, 59, tzinfo=dt.UTC), tick=False)  # 07:59 in New York
    assert digests_send() == 0

    time_machine.move_to(dt.datetime(2026, 3, 2, 13, 0, tzinfo=dt.UTC), tick=False)  # 08:00 in New York
    assert digests_send() == 1
    assert "Monday 2 March 2026" in digests()[0].body_text


@pytest.mark.django_db
def test_the_digest_task_and_command_run_the_same_job(alice, time_machine, capsys):
    time_machine.move_to(MORNING, tick=False)
    TouchPointFactory(customer__owner=alice, due_at=MORNING)

    assert digests_send_task.apply().get() == 1
    call_command("send_digests")
    assert "Queued 0 digest(s)." in capsys.readouterr().out


# --- Weekly summary ------------------------------------------------------------------------


@pytest.fixture
def mary_wants_summary(mary):
    UserProfile.objects.create(user=mary, wants_weekly_summary=True)
    return mary


@pytest.mark.django_db
def test_a_manager_who_asked_gets_last_weeks_figures_per_rep_once(alice, bob, mary_wants_summary, time_machine):
    last_week = dt.datetime(2026, 2, 25, 11, 0, tzinfo=dt.UTC)
    for _ in range(2):
        TouchPointFactory(customer__owner=alice, due_at=last_week, status=Status.DONE, completed_at=last_week)
    TouchPointFactory(customer__owner=bob, due_at=last_week, status=Status.MISSED)
    SurveyResponseFactory(customer=CustomerFactory(owner=bob), nps=2, submitted_at=last_week)
    # Outside the week: not counted.
    TouchPointFactory(customer__owner=alice, due_at=MORNING, status=Status.DONE, completed_at=MORNING)
    ManagerFactory(username="quiet_manager")  # did not ask for a summary
    time_machine.move_to(MORNING, tick=False)

    assert weekly_summaries_send() == 1
    assert weekly_summaries_send() == 0

    [email] = digests()
    assert email.to == mary_wants_summary.email
    assert "week of 23 February" in email.subject
    text = email.body_text
    alice_line = text[text.index("Alice Archer") :].splitlines()[1]
    bob_line = text[text.index("Bob Baker") :].splitlines()[1]
    assert "done 2 · missed 0" in alice_line
    assert "done 0 · missed 1" in bob_line
    assert "answers 1 (1 detractors)" in bob_line


@pytest.mark.django_db
def test_no_weekly_summary_outside_the_managers_hours_or_without_the_wish(mary, alice, time_machine):
    time_machine.move_to(MORNING, tick=False)
    assert weekly_summaries_send() == 0  # mary has no profile: she did not ask

    UserProfile.objects.create(user=mary, wants_weekly_summary=True)
    time_machine.move_to(dt.datetime(2026, 3, 2, 7, 0, tzinfo=dt.UTC), tick=False)
    assert weekly_summaries_send_task.apply().get() == 0
    time_machine.move_to(MORNING, tick=False)
    call_command("send_weekly_summaries")
    assert len(digests()) == 1
