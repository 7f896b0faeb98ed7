"""The customer page: profile, purchases, timeline, care plan and health, and its query count.

The customer list has its own file, tests/aftersales/customer_pages/test_customer_list.py."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from aftersales.customer_pages import views
from aftersales.customer_pages.selectors import customer_timeline
from aftersales.mail.models import OutboxEmail
from tests.factories import (
    CheckupPlanFactory,
    CustomerFactory,
    OutboxEmailFactory,
    ProductFactory,
    PurchaseFactory,
    RiskFlagFactory,
    SurveyResponseFactory,
    TouchPointFactory,
)
from touchpoints.models import Kind, Outcome, Status

NOW = dt.datetime(2025, 3, 12, 10, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


@pytest.fixture
def frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield NOW


def _queries(client, url: str, params: dict | None = None) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url, params or {}).status_code == 200
    return [q["sql"] for q in queries.captured_queries]


def _text(response) -> str:
    """The page's visible text, tags removed and whitespace squeezed: what a reader sees."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


# --- The customer page ---------------------------------------------------------------


def test_profile_shows_language_time_zone_rep_opt_out_and_contact_dates(alice_client, alice, frozen_now):
    customer = CustomerFactory(
        owner=alice,
        language="es",
        timezone="Europe/Madrid",
        email_opt_out=True,
        last_contact_at=NOW - 52 * DAY,
        quiet_after=NOW - 7 * DAY,
    )

    text = _text(alice_client.get(customer.get_absolute_url()))

    assert "Language Español" in text
    assert "Time zone Europe/Madrid" in text
    assert "Rep Alice Archer" in text
    assert "No email (opted out)" in text
    assert "Last contact 19 Jan 2025 (52 days ago)" in text
    assert "Quiet after 5 Mar 2025 quiet now" in text


def test_a_customer_never_contacted_says_so(alice_client, alice, frozen_now):
    text = _text(alice_client.get(CustomerFactory(owner=alice).get_absolute_url()))

    assert "Last contact never" in text
    assert "quiet now" not in text and "opted out" not in text


def test_purchases_show_product_dates_amount_renewal_and_plan(alice_client, alice, frozen_now):
    customer = CustomerFactory(owner=alice)
    PurchaseFactory(
        customer=customer,
        product=ProductFactory(name="CNC router 1325", default_plan=CheckupPlanFactory(name="Machines: 5 check-ups")),
        ordered_at=dt.date(2025, 1, 3),
        delivered_at=dt.date(2025, 1, 20),
        amount="18500.00",
        renewal_date=dt.date(2026, 1, 20),
    )

    text = _text(alice_client.get(customer.get_absolute_url()))

    assert "CNC router 1325 3 Jan 2025 20 Jan 2025 18,500.00 EUR 20 Jan 2026 Machines: 5 check-ups" in text


def test_health_summary_lists_the_stored_explanation(alice_client, alice):
    customer = CustomerFactory(
        owner=alice,
        health_due_at=None,  # computed, nothing changed since
        health_score=45,
        health_explanation=[
            {"points": -5, "reason": "1 check-up overdue by over 3 days"},
            {"points": -30, "reason": "52 days without contact"},
            {"points": 10, "reason": "Last NPS answer 9 (promoter)"},
        ],
    )

    response = alice_client.get(customer.get_absolute_url())

    text = _text(response)
    assert "45 red" in text.lower()
    # Biggest moves first, with a real minus sign.
    assert "−30: 52 days without contact +10: Last NPS answer 9 (promoter) −5: 1 check-up overdue" in text


def test_health_summary_survives_an_unexpected_explanation_shape(alice_client, alice):
    customer = CustomerFactory(
        owner=alice, health_due_at=None, health_score=80, health_explanation=["recomputed by hand", {"x": 1}]
    )

    text = _text(alice_client.get(customer.get_absolute_url()))

    assert "±0: recomputed by hand" in text


def test_care_plan_lists_upcoming_planned_and_renewal_checkups_in_the_customers_time_zone(
    alice_client, alice, frozen_now
):
    customer = CustomerFactory(owner=alice, timezone="Europe/Madrid")
    TouchPointFactory(customer=customer, kind=Kind.RENEWAL, objective="Talk renewal", due_at=NOW + 40 * DAY)
    TouchPointFactory(customer=customer, kind=Kind.PLANNED, objective="Show the 3 features", due_at=NOW + 5 * DAY)
    TouchPointFactory(customer=customer, kind=Kind.FOLLOW_UP, objective="Send the manual", due_at=NOW + DAY)
    TouchPointFactory(customer=customer, kind=Kind.PLANNED, objective="Overdue one", due_at=NOW - DAY)
    TouchPointFactory(
        customer=customer, kind=Kind.PLANNED, objective="Cancelled one", due_at=NOW + DAY, status=Status.CANCELLED
    )

    response = alice_client.get(customer.get_absolute_url())

    upcoming = response.context["upcoming"]
    assert [tp.objective for tp in upcoming.care_plan] == ["Show the 3 features", "Talk renewal"]
    assert [tp.objective for tp in upcoming.next_steps] == ["Send the manual"]
    text = _text(response)
    # 10:00 UTC is 11:00 in Madrid in March (CET).
    assert "Planned check-up · Call Mon 17 Mar 2025, 11:00 Show the 3 features" in text
    assert "Times in the customer’s time zone (Europe/Madrid)" in text


def test_timeline_merges_every_kind_of_event_newest_first(alice_client, alice, bob, frozen_now):
    customer = CustomerFactory(owner=alice)
    TouchPointFactory(
        customer=customer,
        objective="Installation check",
        status=Status.DONE,
        completed_at=NOW - 1 * DAY,
        due_at=NOW - 2 * DAY,
        outcome=Outcome.REACHED,
        temperature=2,
        notes="Grinder <jams> again",
        next_step="Send a technician",
    )
    SurveyResponseFactory(invitation__customer=customer, nps=3, csat=2, comment="Slow", submitted_at=NOW - 3 * DAY)
    RiskFlagFactory(
        customer=customer,
        reason="detractor",
        detail="Answered NPS 3",
        raised_at=NOW - 10 * DAY,
        resolved_at=NOW - 4 * DAY,
    )
    OutboxEmailFactory(customer=customer, subject="Your care plan", kind="care_plan")
    OutboxEmail.objects.filter(subject="Your care plan").update(created_at=NOW - 5 * DAY, sent_at=NOW - 5 * DAY)
    TouchPointFactory(customer=customer, objective="Missed call", status=Status.MISSED, due_at=NOW - 6 * DAY)
    TouchPointFactory(customer=customer, objective="Overdue call", due_at=NOW - 7 * DAY)
    TouchPointFactory(customer=customer, objective="Still to come", due_at=NOW + 3 * DAY)
    OutboxEmailFactory(customer=CustomerFactory(owner=bob), subject="Someone else's mail")

    response = alice_client.get(customer.get_absolute_url())

    timeline = response.context["timeline"]
    assert [event.kind for event in timeline] == [
        "touchpoint",
        "answer",
        "flag_resolved",
        "email",
        "touchpoint",
        "touchpoint",
        "flag_raised",
    ]
    assert [event.at for event in timeline] == sorted((event.at for event in timeline), reverse=True)
    text = _text(response)
    timeline_text = text[text.index("Timeline") :]
    expected_in_order = [
        "Done Planned check-up · Call · Reached Temperature 2/5",
        "Grinder <jams> again",
        "Next step: Send a technician",
        "Survey answer NPS 3 CSAT 2/5",
        "Flag resolved Detractor",
        "Care plan Your care plan · sent 7 Mar 2025",
        "Missed Planned check-up",
        "Overdue Planned check-up · Call",
        "Flag raised Detractor",
        "Answered NPS 3",
    ]
    positions = [timeline_text.find(part) for part in expected_in_order]
    assert -1 not in positions, list(zip(expected_in_order, positions, strict=True))
    assert positions == sorted(positions)
    assert "Still to come" not in timeline_text  # to come: in the care plan, not in the history
    assert "Someone else" not in text
    assert "Grinder &lt;jams&gt; again" in response.content.decode()


def test_timeline_shows_a_cancelled_touchpoint_with_its_reason(alice_client, alice, frozen_now):
    customer = CustomerFactory(owner=alice)
    TouchPointFactory(customer=customer, status=Status.CANCELLED, cancel_reason="Customer moved", due_at=NOW + 10 * DAY)

    text = _text(alice_client.get(customer.get_absolute_url()))

    assert "Cancelled Planned check-up · Call" in text
    assert "Reason: Customer moved" in text


def test_timeline_keeps_the_newest_events_across_sources(alice, frozen_now):
    customer = CustomerFactory(owner=alice)
    for n in range(4):
        TouchPointFactory(customer=customer, status=Status.MISSED, due_at=NOW - (10 * n + 1) * DAY)
        SurveyResponseFactory(invitation__customer=customer, submitted_at=NOW - (10 * n + 2) * DAY)
        RiskFlagFactory(customer=customer, reason=f"r{n}", raised_at=NOW - (10 * n + 3) * DAY)

    timeline = customer_timeline(customer=customer, limit=5)

    assert [(event.kind, (NOW - event.at).days) for event in timeline] == [
        ("touchpoint", 1),
        ("answer", 2),
        ("flag_raised", 3),
        ("touchpoint", 11),
        ("answer", 12),
    ]


def _add_history(customer, count: int) -> None:
    start = customer.flags.count()  # flag reasons stay unique per customer across calls
    for n in range(start, start + count):
        minutes = dt.timedelta(minutes=n)
        PurchaseFactory(customer=customer)
        TouchPointFactory(customer=customer, status=Status.DONE, completed_at=NOW - DAY - minutes, due_at=NOW - DAY)
        TouchPointFactory(customer=customer, kind=Kind.PLANNED, due_at=NOW + DAY + minutes)
        TouchPointFactory(customer=customer, kind=Kind.FOLLOW_UP, due_at=NOW + DAY + minutes)
        SurveyResponseFactory(invitation__customer=customer, submitted_at=NOW - 2 * DAY - minutes)
        RiskFlagFactory(customer=customer, reason=f"reason{n}", raised_at=NOW - 5 * DAY, resolved_at=NOW - DAY)
        RiskFlagFactory(customer=customer, reason=f"open{n}")
        OutboxEmailFactory(customer=customer)


@pytest.mark.parametrize("viewer", ["alice", "mary"])
def test_customer_page_query_count_does_not_grow_with_history(client, alice, mary, viewer, frozen_now):
    client.force_login({"alice": alice, "mary": mary}[viewer])
    customer = CustomerFactory(owner=alice, health_due_at=None)  # a due score adds its recompute (a fixed cost)
    _add_history(customer, 2)
    small = _queries(client, customer.get_absolute_url())
    _add_history(customer, 40)
    large = _queries(client, customer.get_absolute_url())

    assert len(large) == len(small), "\n".join(large)


def test_customer_page_bounds_the_timeline(alice_client, alice, frozen_now, monkeypatch):
    monkeypatch.setattr(views, "TIMELINE_LIMIT", 10)
    customer = CustomerFactory(owner=alice)
    _add_history(customer, 5)

    response = alice_client.get(customer.get_absolute_url())

    assert len(response.context["timeline"]) == 10
    assert "Showing the latest 10 events." in _text(response)
