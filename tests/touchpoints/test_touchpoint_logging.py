"""Logging a check-up, ad hoc contacts, rescheduling and cancelling: the services and their pages."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.forms.models import model_to_dict
from django.test import Client
from django.urls import reverse

from customers.models import Customer, FlagReason, RiskFlag
from tests.factories import CustomerFactory, PurchaseFactory, RiskFlagFactory, TouchPointFactory
from touchpoints.models import Channel, Kind, Outcome, Status, TouchPoint
from touchpoints.services import (
    checkups,
    touchpoint_cancel,
    touchpoint_complete,
    touchpoint_log_adhoc,
    touchpoint_reschedule,
)

# Friday 14 March 2025, 15:00 UTC = 16:00 in Madrid (CET, UTC+1).
NOW = dt.datetime(2025, 3, 14, 15, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture
def customer(alice):
    return CustomerFactory(owner=alice, name="Nadia Ortega", timezone="Europe/Madrid", email="nadia@example.com")


@pytest.fixture
def checkup(customer):
    return TouchPointFactory(customer=customer, due_at=NOW - dt.timedelta(hours=5), objective="Check the grinder")


def snapshot() -> dict:
    """Every row the services write, as plain values: compared before and after a refused write."""
    return {
        "touchpoints": [model_to_dict(tp) for tp in TouchPoint.objects.order_by("pk")],
        "customers": [model_to_dict(c) for c in Customer.objects.order_by("pk")],
        "flags": [model_to_dict(f) for f in RiskFlag.objects.order_by("pk")],
    }


# --- touchpoint_complete ------------------------------------------------------------------


def test_reached_is_two_way_moves_the_contact_clock_and_resolves_gone_quiet(alice, customer, checkup):
    PurchaseFactory(customer=customer, product__quiet_threshold_days=30)
    quiet = RiskFlagFactory(customer=customer, reason=FlagReason.GONE_QUIET, raised_at=NOW - dt.timedelta(days=3))

    done = touchpoint_complete(touchpoint=checkup, by=alice, outcome=Outcome.REACHED, temperature=4, notes="All good")

    done.refresh_from_db()
    assert (done.status, done.outcome, done.temperature, done.notes) == (Status.DONE, "reached", 4, "All good")
    assert done.completed_at == NOW
    customer.refresh_from_db()
    assert customer.last_contact_at == NOW
    assert customer.quiet_after == NOW + dt.timedelta(days=30)  # the product's threshold, not the default 45
    quiet.refresh_from_db()
    assert quiet.resolved_at == NOW and quiet.resolved_by == alice


@pytest.mark.parametrize("outcome", [Outcome.NO_ANSWER, Outcome.LEFT_MESSAGE])
def test_one_way_outcomes_leave_the_contact_clock_and_the_flag_alone(alice, customer, checkup, outcome):
    before = NOW - dt.timedelta(days=50)
    Customer.objects.filter(pk=customer.pk).update(last_contact_at=before, quiet_after=before + dt.timedelta(days=45))
    quiet = RiskFlagFactory(customer=customer, reason=FlagReason.GONE_QUIET)

    touchpoint_complete(touchpoint=checkup, by=alice, outcome=outcome)

    customer.refresh_from_db()
    assert customer.last_contact_at == before
    assert customer.quiet_after == before + dt.timedelta(days=45)
    quiet.refresh_from_db()
    assert quiet.is_open


def test_next_step_becomes_a_follow_up_for_the_owner_at_ten_customer_time(alice, bob, customer):
    # Assigned to bob (covering for alice): the next step still goes to the customer's owner.
    checkup = TouchPointFactory(customer=customer, assignee=bob, channel=Channel.VISIT, due_at=NOW)

    touchpoint_complete(
        touchpoint=checkup,
        by=bob,
        outcome=Outcome.REACHED,
        next_step="Show the milk frother",
        next_step_due=dt.date(2025, 3, 31),  # Madrid is on summer time (UTC+2) from 30 March
    )

    follow_up = TouchPoint.objects.get(follows=checkup)
    assert follow_up.kind == Kind.FOLLOW_UP
    assert follow_up.status == Status.SCHEDULED
    assert follow_up.assignee == alice
    assert follow_up.objective == "Show the milk frother"
    assert follow_up.channel == Channel.VISIT
    assert follow_up.due_at == dt.datetime(2025, 3, 31, 8, 0, tzinfo=dt.UTC)
    assert follow_up.created_by == bob
    checkup.refresh_from_db()
    assert checkup.next_step == "Show the milk frother"


def test_problem_reported_opens_a_follow_up_next_business_day_and_raises_a_flag(alice, customer, checkup):
    touchpoint_complete(
        touchpoint=checkup, by=alice, outcome=Outcome.REACHED, notes="The steam wand leaks", problem_reported=True
    )

    follow_up = TouchPoint.objects.get(follows=checkup)
    # Friday afternoon → Monday 17 March, 10:00 in Madrid (09:00 UTC).
    assert follow_up.due_at == dt.datetime(2025, 3, 17, 9, 0, tzinfo=dt.UTC)
    assert follow_up.assignee == alice and follow_up.kind == Kind.FOLLOW_UP
    assert "The steam wand leaks" in follow_up.objective
    flag = RiskFlag.objects.open().get(customer=customer, reason=FlagReason.PROBLEM_REPORTED)
    assert "The steam wand leaks" in flag.detail
    assert flag.data == {"touchpoint": checkup.pk}


def test_a_second_problem_appends_to_the_open_flag_and_wakes_it(alice, customer, checkup):
    flag = RiskFlagFactory(
        customer=customer,
        reason=FlagReason.PROBLEM_REPORTED,
        detail="Earlier: the grinder jams",
        snoozed_until=NOW + dt.timedelta(days=5),
    )

    touchpoint_complete(
        touchpoint=checkup, by=alice, outcome=Outcome.REACHED, notes="Now the wand leaks", problem_reported=True
    )

    assert RiskFlag.objects.open().filter(customer=customer, reason=FlagReason.PROBLEM_REPORTED).count() == 1
    flag.refresh_from_db()
    assert flag.detail.startswith("Earlier: the grinder jams\n")
    assert "Now the wand leaks" in flag.detail
    assert flag.snoozed_until is None


def test_next_step_and_problem_together_create_two_follow_ups(alice, customer, checkup):
    touchpoint_complete(
        touchpoint=checkup,
        by=alice,
        outcome=Outcome.REACHED,
        next_step="Quarterly review",
        next_step_due=dt.date(2025, 6, 2),
        problem_reported=True,
    )

    assert TouchPoint.objects.filter(follows=checkup).count() == 2


def test_completing_twice_is_refused_and_changes_nothing(alice, customer, checkup):
    stale_copy = TouchPoint.objects.select_related("customer").get(pk=checkup.pk)  # a second tab, loaded earlier
    touchpoint_complete(
        touchpoint=checkup, by=alice, outcome=Outcome.REACHED, next_step="Call back", next_step_due=dt.date(2025, 4, 1)
    )
    before = snapshot()

    with pytest.raises(ValidationError, match="already logged"):
        touchpoint_complete(
            touchpoint=stale_copy,
            by=alice,
            outcome=Outcome.NO_ANSWER,
            notes="second",
            next_step="Call back",
            next_step_due=dt.date(2025, 4, 1),
            problem_reported=True,
        )

    assert snapshot() == before
    assert TouchPoint.objects.filter(follows=checkup).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_submits_at_the_same_moment_complete_once(alice, customer, checkup):
    """Two connections race for the claim: PostgreSQL makes the second UPDATE wait, then it finds the row done."""
    if connection.vendor != "postgresql":
        pytest.skip("needs two real concurrent connections (PostgreSQL)")
    barrier = threading.Barrier(2)
    results = []

    def submit() -> None:
        try:
            mine = TouchPoint.objects.select_related("customer").get(pk=checkup.pk)
            barrier.wait()
            touchpoint_complete(
                touchpoint=mine, by=alice, outcome="reached", next_step="Call", next_step_due=dt.date(2025, 3, 20)
            )
            results.append("done")
        except ValidationError:
            results.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(results) == ["done", "refused"]
    assert TouchPoint.objects.filter(follows=checkup).count() == 1


def test_a_cancelled_checkup_cannot_be_completed(alice, customer):
    cancelled = TouchPointFactory(customer=customer, status=Status.CANCELLED, cancel_reason="Sold the machine")

    with pytest.raises(ValidationError, match="already cancelled"):
        touchpoint_complete(touchpoint=cancelled, by=alice, outcome=Outcome.REACHED)

    cancelled.refresh_from_db()
    assert cancelled.status == Status.CANCELLED and cancelled.outcome == ""


def test_a_missed_checkup_can_still_be_logged_late(alice, customer):
    missed = TouchPointFactory(customer=customer, status=Status.MISSED, due_at=NOW - dt.timedelta(days=10))

    touchpoint_complete(touchpoint=missed, by=alice, outcome=Outcome.REACHED)

    missed.refresh_from_db()
    assert missed.status == Status.DONE


def test_notes_are_added_after_the_reschedule_history(alice, customer, checkup):
    touchpoint_reschedule(touchpoint=checkup, by=alice, due_date=dt.date(2025, 3, 18), reason="On holiday")

    touchpoint_complete(touchpoint=checkup, by=alice, outcome=Outcome.REACHED, notes="Back and happy")

    checkup.refresh_from_db()
    lines = checkup.notes.splitlines()
    assert lines[0].startswith("Moved from 14 Mar 2025 to 18 Mar 2025 by Alice Archer: On holiday")
    assert lines[1] == "Back and happy"


BAD_INPUT = {
    "next step in the past": (
        {"next_step": "Call back", "next_step_due": dt.date(2025, 3, 13)},
        "next_step_due",
        "cannot be in the past",
    ),
    "next step years ahead": (
        {"next_step": "Call back", "next_step_due": dt.date(2205, 3, 13)},
        "next_step_due",
        "check the year",
    ),
    "temperature 9": ({"temperature": 9}, "temperature", "from 1 (cold) to 5"),
    "temperature 0": ({"temperature": 0}, "temperature", "from 1 (cold) to 5"),
    "100 KB of notes": ({"notes": "x" * 100_000}, "notes", "at most 10,000 characters; these have 100,000"),
    "next step without a date": ({"next_step": "Call back"}, "next_step_due", "Give the next step a date"),
    "a date without a next step": ({"next_step_due": dt.date(2025, 4, 1)}, "next_step", "Say what the next step is"),
    "next step too long": (
        {"next_step": "x" * 501, "next_step_due": dt.date(2025, 4, 1)},
        "next_step",
        "at most 500",
    ),
    "unknown outcome": ({"outcome": "telepathy"}, "outcome", "Choose what happened"),
    "inbound is not how a check-up ends": ({"outcome": Outcome.INBOUND}, "outcome", "Choose what happened"),
}


@pytest.mark.parametrize(("changes", "field", "message"), BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_bad_input_is_refused_with_a_message_and_nothing_is_saved(alice, customer, checkup, changes, field, message):
    RiskFlagFactory(customer=customer, reason=FlagReason.GONE_QUIET)
    before = snapshot()
    arguments = {"outcome": Outcome.REACHED, "problem_reported": True, **changes}

    with pytest.raises(ValidationError) as error:
        touchpoint_complete(touchpoint=checkup, by=alice, **arguments)

    assert message in " ".join(error.value.message_dict[field])
    assert snapshot() == before


def test_a_next_step_today_is_accepted(alice, customer, checkup):
    touchpoint_complete(
        touchpoint=checkup,
        by=alice,
        outcome=Outcome.REACHED,
        next_step="Later today",
        next_step_due=dt.date(2025, 3, 14),
    )

    assert TouchPoint.objects.get(follows=checkup).due_at == dt.datetime(2025, 3, 14, 9, 0, tzinfo=dt.UTC)


def test_another_rep_cannot_complete_and_a_manager_can(alice, bob, mary, customer, checkup):
    with pytest.raises(PermissionDenied):
        touchpoint_complete(touchpoint=checkup, by=bob, outcome=Outcome.REACHED)
    checkup.refresh_from_db()
    assert checkup.status == Status.SCHEDULED

    touchpoint_complete(touchpoint=checkup, by=mary, outcome=Outcome.REACHED)
    checkup.refresh_from_db()
    assert checkup.status == Status.DONE


# --- touchpoint_log_adhoc ------------------------------------------------------------------


def test_an_inbound_call_is_logged_as_done_and_counts_as_two_way(alice, customer):
    touchpoint = touchpoint_log_adhoc(
        customer=customer,
        by=alice,
        channel=Channel.CALL,
        outcome=Outcome.INBOUND,
        notes="Asked for descaler",
        temperature=5,
    )

    touchpoint.refresh_from_db()
    assert (touchpoint.kind, touchpoint.status, touchpoint.channel) == (Kind.AD_HOC, Status.DONE, Channel.CALL)
    assert touchpoint.completed_at == NOW == touchpoint.due_at
    assert touchpoint.assignee == alice and touchpoint.temperature == 5
    customer.refresh_from_db()
    assert customer.last_contact_at == NOW
    assert customer.quiet_after == NOW + dt.timedelta(days=45)


def test_an_unanswered_email_is_logged_but_is_not_two_way(alice, customer):
    touchpoint_log_adhoc(customer=customer, by=alice, channel=Channel.EMAIL, outcome=Outcome.NO_ANSWER)

    customer.refresh_from_db()
    assert customer.last_contact_at is None
    assert TouchPoint.objects.get(customer=customer).kind == Kind.AD_HOC


def test_adhoc_with_a_problem_and_a_next_step(alice, customer):
    contact = touchpoint_log_adhoc(
        customer=customer,
        by=alice,
        channel=Channel.VISIT,
        outcome=Outcome.REACHED,
        next_step="Bring the spare part",
        next_step_due=dt.date(2025, 3, 20),
        problem_reported=True,
    )

    assert TouchPoint.objects.filter(follows=contact).count() == 2
    assert RiskFlag.objects.open().filter(customer=customer, reason=FlagReason.PROBLEM_REPORTED).exists()


def test_adhoc_bad_input_saves_nothing(alice, bob, customer):
    before = snapshot()

    with pytest.raises(ValidationError) as error:
        touchpoint_log_adhoc(customer=customer, by=alice, channel="pigeon", outcome=Outcome.REACHED, temperature=9)
    assert set(error.value.message_dict) == {"channel", "temperature"}
    with pytest.raises(PermissionDenied):
        touchpoint_log_adhoc(customer=customer, by=bob, channel=Channel.CALL, outcome=Outcome.REACHED)

    assert snapshot() == before


# --- touchpoint_reschedule / touchpoint_cancel -----------------------------------------------


def test_reschedule_moves_to_ten_customer_time_and_resets_the_reminder(alice, customer, monkeypatch):
    calls = []
    monkeypatch.setattr(checkups, "careplan_notify_date_moved", lambda **kwargs: calls.append(kwargs))
    old_due = NOW - dt.timedelta(hours=5)
    checkup = TouchPointFactory(customer=customer, kind=Kind.PLANNED, due_at=old_due, reminder_sent_at=NOW)

    touchpoint_reschedule(touchpoint=checkup, by=alice, due_date=dt.date(2025, 3, 19), reason="Customer travelling")

    checkup.refresh_from_db()
    assert checkup.due_at == dt.datetime(2025, 3, 19, 9, 0, tzinfo=dt.UTC)
    assert checkup.status == Status.SCHEDULED
    assert checkup.reminder_sent_at is None
    assert "Customer travelling" in checkup.notes
    assert len(calls) == 1
    assert calls[0]["touchpoint"].pk == checkup.pk and calls[0]["old_due_at"] == old_due


@pytest.mark.parametrize(
    ("kind", "notified"), [(Kind.RENEWAL, True), (Kind.FOLLOW_UP, False), (Kind.CLOSE_LOOP, False)]
)
def test_only_care_plan_checkups_notify_the_customer(alice, customer, monkeypatch, kind, notified):
    calls = []
    monkeypatch.setattr(checkups, "careplan_notify_date_moved", lambda **kwargs: calls.append(kwargs))
    checkup = TouchPointFactory(customer=customer, kind=kind)

    touchpoint_reschedule(touchpoint=checkup, by=alice, due_date=dt.date(2025, 3, 21), reason="Busy")

    assert bool(calls) is notified


def test_rescheduling_a_care_plan_checkup_queues_the_date_moved_email(alice, customer):
    """With the real care-plan module: the customer gets one email through the outbox."""
    from aftersales.mail.models import OutboxEmail

    checkup = TouchPointFactory(customer=customer, kind=Kind.PLANNED, due_at=NOW + dt.timedelta(days=2))

    touchpoint_reschedule(touchpoint=checkup, by=alice, due_date=dt.date(2025, 3, 25), reason="Busy week")

    emails = OutboxEmail.objects.filter(customer=customer)
    assert emails.count() == 1
    assert emails.get().to == "nadia@example.com"


RESCHEDULE_BAD = {
    "past date": ({"due_date": dt.date(2025, 3, 13), "reason": "x"}, "due_date", "cannot be in the past"),
    "no date": ({"due_date": None, "reason": "x"}, "due_date", "Pick the new date"),
    "no reason": ({"due_date": dt.date(2025, 3, 20), "reason": "  "}, "reason", "Say why"),
    "long reason": ({"due_date": dt.date(2025, 3, 20), "reason": "x" * 501}, "reason", "under 500"),
}


@pytest.mark.parametrize(("arguments", "field", "message"), RESCHEDULE_BAD.values(), ids=RESCHEDULE_BAD.keys())
def test_reschedule_bad_input_changes_nothing(alice, customer, checkup, arguments, field, message):
    before = snapshot()

    with pytest.raises(ValidationError) as error:
        touchpoint_reschedule(touchpoint=checkup, by=alice, **arguments)

    assert message in " ".join(error.value.message_dict[field])
    assert snapshot() == before


def test_cancel_needs_a_reason_and_closes_the_checkup(alice, customer, checkup):
    with pytest.raises(ValidationError, match="Say why"):
        touchpoint_cancel(touchpoint=checkup, by=alice, reason="")
    checkup.refresh_from_db()
    assert checkup.status == Status.SCHEDULED

    touchpoint_cancel(touchpoint=checkup, by=alice, reason="Returned the machine")

    checkup.refresh_from_db()
    assert (checkup.status, checkup.cancel_reason) == (Status.CANCELLED, "Returned the machine")
    with pytest.raises(ValidationError, match="already cancelled"):
        touchpoint_reschedule(touchpoint=checkup, by=alice, due_date=dt.date(2025, 3, 20), reason="Oops")


def test_a_done_checkup_cannot_be_cancelled(alice, customer, checkup):
    touchpoint_complete(touchpoint=checkup, by=alice, outcome=Outcome.REACHED)

    with pytest.raises(ValidationError, match="already logged"):
        touchpoint_cancel(touchpoint=checkup, by=alice, reason="Changed my mind")

    checkup.refresh_from_db()
    assert checkup.status == Status.DONE and checkup.cancel_reason == ""


# --- The pages -----------------------------------------------------------------------------

HTMX = {"HTTP_HX_REQUEST": "true"}


def _log_data(touchpoint: TouchPoint, **values) -> dict:
    return {f"tp{touchpoint.pk}-{name}": value for name, value in values.items()}


def test_log_form_as_a_full_page_without_javascript(alice_client, checkup):
    response = alice_client.get(reverse("touchpoint_log", args=[checkup.pk]))

    content = response.content.decode()
    assert response.status_code == 200
    assert "<html" in content and "Log the check-up" in content
    assert "Check the grinder" in content and "Nadia Ortega" in content
    assert f'name="tp{checkup.pk}-temperature" value="5"' in content
    assert "hx-post" not in content  # a plain form: it posts and redirects
    assert 'name="csrfmiddlewaretoken"' in content


def test_log_form_as_an_htmx_fragment_inside_the_row(alice_client, checkup):
    url = reverse("touchpoint_log", args=[checkup.pk])

    response = alice_client.get(url, **HTMX)

    content = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in content
    assert content.strip().startswith(f'<li class="list-group-item" id="touchpoint-{checkup.pk}"')
    assert f'hx-post="{url}" hx-target="#touchpoint-{checkup.pk}" hx-swap="outerHTML"' in content
    assert f'hx-get="{reverse("touchpoint_row", args=[checkup.pk])}"' in content  # Close


def test_htmx_post_replaces_the_row_with_a_done_row(alice_client, alice, customer, checkup):
    data = _log_data(
        checkup,
        outcome="reached",
        temperature="4",
        notes="Happy",
        next_step="Show the <milk> frother",
        next_step_due="2025-03-20",
    )

    response = alice_client.post(reverse("touchpoint_log", args=[checkup.pk]), data, **HTMX)

    content = response.content.decode()
    assert response.status_code == 200
    assert f'id="touchpoint-{checkup.pk}"' in content and "list-group-item-success" in content
    assert "Done: call, reached · temperature 4/5." in content
    assert "Next: Show the &lt;milk&gt; frother" in content and "Thu 20 Mar 2025, 09:00" in content
    assert 'id="nav-due-count" hx-swap-oob="true"' in content
    checkup.refresh_from_db()
    assert checkup.status == Status.DONE and checkup.temperature == 4


def test_htmx_post_with_bad_input_shows_errors_next_to_the_fields_and_saves_nothing(alice_client, checkup):
    before = snapshot()
    data = _log_data(
        checkup, outcome="reached", temperature="9", notes="x" * 100_000, next_step="Call", next_step_due="2025-03-01"
    )

    response = alice_client.post(reverse("touchpoint_log", args=[checkup.pk]), data, **HTMX)

    content = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in content

    def field_block(name: str) -> str:
        start = content.index(f'id="div_id_tp{checkup.pk}-{name}"')
        return content[start : content.index('<div id="div_id_', start + 1)]

    assert "from 1 (cold) to 5 (enthusiastic)" in field_block("temperature")
    assert "at most 10,000 characters" in field_block("notes")
    assert "cannot be in the past" in field_block("next_step_due")
    assert snapshot() == before


@pytest.mark.parametrize("next_url", ["-1", "my_day", "https://evil.example/"])
def test_a_next_that_is_no_path_on_this_site_goes_to_my_day(alice_client, checkup, next_url):
    """``redirect("-1")`` looked for a view named "-1": a 500 after the check-up was logged."""
    data = _log_data(checkup, outcome="no_answer") | {"next": next_url}

    response = alice_client.post(reverse("touchpoint_log", args=[checkup.pk]), data)

    assert response["Location"] == reverse("my_day")


def test_plain_post_redirects_to_my_day_with_a_message(alice_client, checkup):
    data = _log_data(checkup, outcome="no_answer")

    response = alice_client.post(reverse("touchpoint_log", args=[checkup.pk]), data, follow=True)

    assert response.redirect_chain == [(reverse("my_day"), 302)]
    assert "Logged: call with Nadia Ortega, no answer." in response.content.decode()
    checkup.refresh_from_db()
    assert checkup.outcome == Outcome.NO_ANSWER


def test_plain_post_with_bad_input_shows_the_full_page_with_errors(alice_client, checkup):
    response = alice_client.post(reverse("touchpoint_log", args=[checkup.pk]), _log_data(checkup, temperature="9"))

    content = response.content.decode()
    assert response.status_code == 200 and "<html" in content
    assert "Choose what happened" in content and "from 1 (cold) to 5" in content
    checkup.refresh_from_db()
    assert checkup.status == Status.SCHEDULED


def test_plain_post_goes_back_to_next_but_never_off_site(alice_client, customer, checkup):
    other = TouchPointFactory(customer=customer)
    back = customer.get_absolute_url()

    response = alice_client.post(
        reverse("touchpoint_log", args=[checkup.pk]), {**_log_data(checkup, outcome="reached"), "next": back}
    )
    assert response["Location"] == back

    response = alice_client.post(
        reverse("touchpoint_log", args=[other.pk]),
        {**_log_data(other, outcome="reached"), "next": "https://evil.example.com/"},
    )
    assert response["Location"] == reverse("my_day")


def test_a_double_submit_logs_once_and_says_so(alice_client, checkup):
    url = reverse("touchpoint_log", args=[checkup.pk])
    data = _log_data(checkup, outcome="reached", next_step="Call again", next_step_due="2025-03-21")

    first = alice_client.post(url, data, **HTMX)
    second = alice_client.post(url, data, **HTMX)

    assert "Done:" in first.content.decode()
    content = second.content.decode()
    assert "This check-up was already logged; nothing was changed." in content
    assert f'name="tp{checkup.pk}-outcome"' not in content  # no form to submit a third time
    assert TouchPoint.objects.filter(follows=checkup).count() == 1


def test_reschedule_and_cancel_pages(alice_client, customer, checkup):
    reschedule = reverse("touchpoint_reschedule", args=[checkup.pk])
    assert "New date" in alice_client.get(reschedule).content.decode()

    response = alice_client.post(
        reschedule, {f"tp{checkup.pk}-due_date": "2025-03-18", f"tp{checkup.pk}-reason": "Away"}, **HTMX
    )
    assert "Moved to" in response.content.decode() and "Tue 18 Mar 2025" in response.content.decode()
    checkup.refresh_from_db()
    assert checkup.due_at == dt.datetime(2025, 3, 18, 9, 0, tzinfo=dt.UTC)

    cancel = reverse("touchpoint_cancel", args=[checkup.pk])
    response = alice_client.post(cancel, {f"tp{checkup.pk}-reason": ""}, **HTMX)
    assert "Say why the check-up is cancelled." in response.content.decode()
    response = alice_client.post(cancel, {f"tp{checkup.pk}-reason": "Machine returned"}, follow=True)
    assert "Cancelled the check-up with Nadia Ortega." in response.content.decode()
    checkup.refresh_from_db()
    assert checkup.status == Status.CANCELLED


def test_close_puts_the_row_back_and_a_plain_get_goes_to_the_customer(alice_client, customer, checkup):
    url = reverse("touchpoint_row", args=[checkup.pk])

    content = alice_client.get(url, **HTMX).content.decode()
    assert f'hx-get="{reverse("touchpoint_log", args=[checkup.pk])}"' in content
    assert "<form" not in content

    assert alice_client.get(url)["Location"] == checkup.get_absolute_url()


def test_log_a_contact_inline_and_as_a_page(alice_client, customer):
    url = reverse("touchpoint_log_contact", args=[customer.pk])
    prefix = f"contact{customer.pk}"

    fragment = alice_client.get(url, **HTMX).content.decode()
    assert f'id="log-contact-{customer.pk}"' in fragment and "Customer got in touch" in fragment
    assert "<html" not in alice_client.get(f"{url}?close=1", **HTMX).content.decode()

    response = alice_client.post(
        url,
        {f"{prefix}-channel": "call", f"{prefix}-outcome": "inbound", f"{prefix}-temperature": "2"},
        **HTMX,
    )
    assert "Done: call, customer got in touch · temperature 2/5." in response.content.decode()

    response = alice_client.post(url, {f"{prefix}-channel": "email", f"{prefix}-outcome": "reached"})
    assert response["Location"] == customer.get_absolute_url()
    assert TouchPoint.objects.filter(customer=customer, kind=Kind.AD_HOC).count() == 2


@pytest.mark.parametrize("url_name", ["touchpoint_log", "touchpoint_reschedule", "touchpoint_cancel", "touchpoint_row"])
def test_another_reps_touchpoint_is_a_404_and_unchanged(alice_client, bob, url_name):
    theirs = TouchPointFactory(customer=CustomerFactory(owner=bob))
    before = snapshot()
    url = reverse(url_name, args=[theirs.pk])
    data = {
        **_log_data(theirs, outcome="reached", reason="x", due_date="2025-03-20"),
    }

    assert alice_client.get(url).status_code == 404
    assert alice_client.get(url, **HTMX).status_code == 404
    if url_name != "touchpoint_row":
        assert alice_client.post(url, data).status_code == 404
        assert alice_client.post(url, data, **HTMX).status_code == 404
    assert snapshot() == before


def test_another_reps_customer_gets_no_contact_logged(alice_client, bob):
    theirs = CustomerFactory(owner=bob)
    url = reverse("touchpoint_log_contact", args=[theirs.pk])

    assert alice_client.get(url).status_code == 404
    prefix = f"contact{theirs.pk}"
    assert alice_client.post(url, {f"{prefix}-channel": "call", f"{prefix}-outcome": "reached"}).status_code == 404
    assert not TouchPoint.objects.exists()


def test_a_touchpoint_assigned_to_the_rep_on_someone_elses_customer_is_theirs_to_log(alice_client, alice, bob):
    covering = TouchPointFactory(customer=CustomerFactory(owner=bob), assignee=alice)

    response = alice_client.post(reverse("touchpoint_log", args=[covering.pk]), _log_data(covering, outcome="reached"))

    assert response.status_code == 302
    covering.refresh_from_db()
    assert covering.status == Status.DONE


def test_a_manager_may_log_any_reps_checkup(mary_client, bob):
    theirs = TouchPointFactory(customer=CustomerFactory(owner=bob))

    response = mary_client.post(reverse("touchpoint_log", args=[theirs.pk]), _log_data(theirs, outcome="reached"))

    assert response.status_code == 302
    theirs.refresh_from_db()
    assert theirs.status == Status.DONE


def test_logging_needs_a_login_and_a_csrf_token(alice, checkup):
    anonymous = Client()
    response = anonymous.get(reverse("touchpoint_log", args=[checkup.pk]))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    response = strict.post(reverse("touchpoint_log", args=[checkup.pk]), _log_data(checkup, outcome="reached"))
    assert response.status_code == 403
    checkup.refresh_from_db()
    assert checkup.status == Status.SCHEDULED


def test_a_contact_logged_on_the_customer_page_reloads_it_to_show_the_timeline(alice_client, customer):
    page = customer.get_absolute_url()
    assert (
        f'href="{reverse("touchpoint_log_contact", args=[customer.pk])}?next='
        in alice_client.get(page).content.decode()
    )
    prefix = f"contact{customer.pk}"

    response = alice_client.post(
        reverse("touchpoint_log_contact", args=[customer.pk]),
        {f"{prefix}-channel": "visit", f"{prefix}-outcome": "reached", f"{prefix}-notes": "Fixed the hopper"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL=f"http://testserver{page}",
    )

    assert response["HX-Refresh"] == "true"
    reloaded = alice_client.get(page).content.decode()
    assert "Logged: visit with Nadia Ortega, reached." in reloaded
    assert "Fixed the hopper" in reloaded
