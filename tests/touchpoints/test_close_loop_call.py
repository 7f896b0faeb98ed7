"""Logging the close-the-loop call: *reached* resolves the flags the answer raised, *no answer* tries again.

A detractor answers 3 and ticks "I have a problem"; the loop job raises the two flags and opens the
call (tests/test_close_loop.py). Its log form lists those open flags, ticked, and a reached call
resolves the ticked ones with the call's notes; any other outcome keeps them open, and no answer
puts the next try on the next business day.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.forms.models import model_to_dict
from django.urls import reverse

from aftersales.audit.models import AuditAction, AuditEvent
from customers.models import Customer, FlagReason, RiskFlag
from customers.services import RESOLUTION_MAX_LENGTH, riskflag_raise
from feedback.services.answers import Answer, survey_response_record
from feedback.services.loops import survey_loops_open
from tests.factories import CustomerFactory, RiskFlagFactory, SurveyInvitationFactory, TouchPointFactory
from touchpoints.models import Kind, Outcome, Status, TouchPoint
from touchpoints.services import touchpoint_complete

pytestmark = pytest.mark.django_db

# Friday 6 March 2026, 15:00 in Madrid: the answer. The call is due Monday the 9th, 10:00 Madrid.
FRIDAY = dt.datetime(2026, 3, 6, 14, 0, tzinfo=dt.UTC)
# Monday 9 March, 11:30 in Madrid: the rep calls.
MONDAY = dt.datetime(2026, 3, 9, 10, 30, tzinfo=dt.UTC)
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def customer(alice):
    return CustomerFactory(owner=alice, name="Carmen Ruiz", timezone="Europe/Madrid", health_due_at=None)


@pytest.fixture
def call(customer) -> TouchPoint:
    """The detractor who reported a problem, her loop opened by the job: the call to log."""
    with time_machine.travel(FRIDAY - dt.timedelta(days=1), tick=False):
        invitation = SurveyInvitationFactory(customer=customer)
    with time_machine.travel(FRIDAY, tick=False):
        survey_response_record(
            invitation=invitation, answer=Answer(nps=3, comment="Leaks again", problem_reported=True)
        )
    with time_machine.travel(FRIDAY + dt.timedelta(seconds=5), tick=False):
        assert survey_loops_open() == 1
    return TouchPoint.objects.get(kind=Kind.CLOSE_LOOP)


@pytest.fixture(autouse=True)
def _monday():
    """Tests run on Monday; the fixtures above travel back to Friday for the answer."""
    with time_machine.travel(MONDAY, tick=False):
        yield


def _flags(customer) -> dict[str, RiskFlag]:
    return {flag.reason: flag for flag in RiskFlag.objects.filter(customer=customer)}


def _post(client, call: TouchPoint, *, flags=(), headers=None, **fields):
    data = {f"tp{call.pk}-{name}": value for name, value in fields.items()}
    data[f"tp{call.pk}-resolve_flags"] = [flag.pk for flag in flags]
    return client.post(reverse("touchpoint_log", args=[call.pk]), data, **(headers or {}))


def _rows() -> dict:
    return {
        "touchpoints": [model_to_dict(tp) for tp in TouchPoint.objects.order_by("pk")],
        "flags": [model_to_dict(flag) for flag in RiskFlag.objects.order_by("pk")],
        "customers": [model_to_dict(customer) for customer in Customer.objects.order_by("pk")],
    }


def test_the_log_form_lists_the_flags_the_answer_raised_ticked(alice_client, customer, call):
    flags = _flags(customer)
    assert set(flags) == {FlagReason.DETRACTOR, FlagReason.PROBLEM_REPORTED}

    page = alice_client.get(reverse("touchpoint_log", args=[call.pk]))
    inline = alice_client.get(reverse("touchpoint_log", args=[call.pk]), **HTMX)

    field = page.context["form"]["resolve_flags"]
    assert [choice.data["value"].value for choice in field] == [flag.pk for flag in flags.values()]
    assert [str(choice.data["label"]) for choice in field] == [
        f'{flag.get_reason_display()}: Survey 6 Mar 2026: NPS 3, problem reported: "Leaks again"'
        for flag in flags.values()
    ]
    for response in (page, inline):
        html = response.content.decode()
        assert "Resolve these flags" in html
        for flag in flags.values():  # ticked by default
            assert re.search(rf'name="tp{call.pk}-resolve_flags" value="{flag.pk}"[^>]* checked>', html)


def test_reached_resolves_the_ticked_flags_with_the_notes(alice_client, alice, customer, call):
    flags = _flags(customer)

    response = _post(
        alice_client,
        call,
        flags=flags.values(),
        outcome=Outcome.REACHED,
        temperature=3,
        notes="Replaced the seal; she is happy again.",
        next="/my-day/",
    )

    assert response.status_code == 302
    for flag in RiskFlag.objects.filter(customer=customer):
        assert (flag.resolved_at, flag.resolved_by, flag.resolution) == (
            MONDAY,
            alice,
            "Replaced the seal; she is happy again.",
        )
    assert list(Customer.objects.at_risk()) == []
    assert AuditEvent.objects.filter(action=AuditAction.RESOLVED, actor=alice).count() == 2
    page = alice_client.get("/my-day/")
    assert "Logged: call with Carmen Ruiz, reached. Resolved: Detractor, Problem reported." in page.content.decode()
    assert page.context["at_risk"] == []
    call.refresh_from_db()
    assert (call.status, call.outcome, call.notes) == (
        Status.DONE,
        Outcome.REACHED,
        "Replaced the seal; she is happy again.",
    )


def test_an_unticked_flag_stays_open(alice_client, customer, call):
    flags = _flags(customer)

    _post(alice_client, call, flags=[flags[FlagReason.DETRACTOR]], outcome=Outcome.REACHED, notes="Calmer now")

    after = _flags(customer)
    assert not after[FlagReason.DETRACTOR].is_open
    assert after[FlagReason.PROBLEM_REPORTED].is_open
    assert list(Customer.objects.at_risk()) == [customer]


def test_with_htmx_the_row_says_which_flags_were_resolved(alice_client, customer, call):
    response = _post(
        alice_client,
        call,
        flags=_flags(customer).values(),
        headers=HTMX,
        outcome=Outcome.REACHED,
        notes="All sorted",
    )

    assert "Flags resolved: Detractor, Problem reported." in response.content.decode()
    assert RiskFlag.objects.open().count() == 0


def test_no_answer_keeps_the_flags_open_and_schedules_the_next_try(alice_client, alice, customer, call):
    """The ticks (on by default) do not matter: only reaching the customer settles anything."""
    response = _post(alice_client, call, flags=_flags(customer).values(), outcome=Outcome.NO_ANSWER, notes="Voicemail")

    assert response.status_code == 302
    assert RiskFlag.objects.open().filter(customer=customer).count() == 2
    [retry] = TouchPoint.objects.filter(follows=call)
    assert (retry.kind, retry.status, retry.assignee, retry.channel) == (
        Kind.CLOSE_LOOP,
        Status.SCHEDULED,
        alice,
        call.channel,
    )
    assert retry.objective == call.objective
    assert retry.due_at == dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)  # Tuesday 10:00 in Madrid
    # The next try settles the same flags.
    form = alice_client.get(reverse("touchpoint_log", args=[retry.pk])).context["form"]
    assert {choice.data["value"].value for choice in form["resolve_flags"]} == {
        flag.pk for flag in _flags(customer).values()
    }


def test_no_answer_on_a_friday_tries_again_on_monday(alice, customer, call):
    with time_machine.travel(dt.datetime(2026, 3, 13, 16, 0, tzinfo=dt.UTC), tick=False):
        touchpoint_complete(touchpoint=call, by=alice, outcome=Outcome.NO_ANSWER)

    [retry] = TouchPoint.objects.filter(follows=call)
    assert retry.due_at == dt.datetime(2026, 3, 16, 9, 0, tzinfo=dt.UTC)  # Monday 10:00 in Madrid


def test_left_a_message_keeps_the_flags_open(alice, customer, call):
    touchpoint_complete(
        touchpoint=call,
        by=alice,
        outcome=Outcome.LEFT_MESSAGE,
        notes="Asked her to call back",
        resolve_flags=list(_flags(customer).values()),
    )

    assert RiskFlag.objects.open().filter(customer=customer).count() == 2


def test_reached_with_ticked_flags_needs_notes_and_changes_nothing_without(alice_client, customer, call):
    before = _rows()

    response = _post(alice_client, call, flags=_flags(customer).values(), outcome=Outcome.REACHED, notes="  ")

    assert response.status_code == 200
    assert response.context["form"].errors["notes"] == [
        "Write how it was settled: the notes become the resolution of the ticked flags."
    ]
    assert _rows() == before


def test_reached_with_nothing_ticked_needs_no_notes(alice_client, customer, call):
    response = _post(alice_client, call, outcome=Outcome.REACHED)

    assert response.status_code == 302
    assert RiskFlag.objects.open().filter(customer=customer).count() == 2


def test_long_notes_are_cut_for_the_resolution_and_kept_whole_on_the_call(alice, customer, call):
    notes = "Long story. " * 100

    touchpoint_complete(
        touchpoint=call, by=alice, outcome=Outcome.REACHED, notes=notes, resolve_flags=list(_flags(customer).values())
    )

    call.refresh_from_db()
    assert call.notes == notes.strip()
    for flag in _flags(customer).values():
        assert len(flag.resolution) == RESOLUTION_MAX_LENGTH
        assert flag.resolution.endswith("…") and notes.startswith(flag.resolution[:-1])


def test_only_the_calls_own_flags_are_offered_and_accepted(alice_client, alice, customer, call):
    """Not a flag of another reason (gone quiet), nor one a later answer raised (its own call settles it)."""
    quiet = RiskFlagFactory(customer=customer, reason=FlagReason.GONE_QUIET, raised_at=FRIDAY - dt.timedelta(days=9))
    later = riskflag_raise(customer=customer, reason=FlagReason.LOW_CSAT, detail="Survey 9 Mar: CSAT 1")
    before = _rows()

    form = alice_client.get(reverse("touchpoint_log", args=[call.pk])).context["form"]
    offered = {choice.data["value"].value for choice in form["resolve_flags"]}
    refused_form = _post(alice_client, call, flags=[quiet], outcome=Outcome.REACHED, notes="All good")
    with pytest.raises(ValidationError) as refused:
        touchpoint_complete(touchpoint=call, by=alice, outcome=Outcome.REACHED, notes="All good", resolve_flags=[later])

    assert offered == {flag.pk for flag in _flags(customer).values()} - {quiet.pk, later.pk}
    assert refused_form.status_code == 200 and "resolve_flags" in refused_form.context["form"].errors
    assert refused.value.message_dict == {
        "resolve_flags": ["Only the open flags this call is about can be resolved with it."]
    }
    assert _rows() == before


def test_other_touch_points_offer_no_flags(alice_client, customer, call):
    checkup = TouchPointFactory(customer=customer, kind=Kind.PLANNED, due_at=MONDAY)

    form = alice_client.get(reverse("touchpoint_log", args=[checkup.pk])).context["form"]

    assert "resolve_flags" not in form.fields
    assert RiskFlag.objects.open().filter(customer=customer).count() == 2
