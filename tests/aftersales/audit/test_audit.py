"""The audit trail: every service that changes a customer's data says who did what, and managers see it."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from aftersales.audit.models import AuditAction, AuditEvent
from aftersales.audit.services import audit_record
from customers.services import customer_create, riskflag_raise, riskflag_snooze
from feedback.services.unsubscribe import customer_resubscribe, customer_unsubscribe
from tests.factories import CheckupPlanFactory, CustomerFactory, PlanStepFactory, ProductFactory, TouchPointFactory
from touchpoints.models import Channel, Outcome
from touchpoints.planning import StepData, checkup_plan_save
from touchpoints.services import (
    customers_reassign,
    purchase_record,
    touchpoint_cancel,
    touchpoint_complete,
    touchpoint_log_adhoc,
    touchpoint_reschedule,
)

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)  # a Monday


@pytest.fixture(autouse=True)
def frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture
def customer(alice):
    return CustomerFactory(owner=alice, name="Nadia Ortega", email="nadia@example.com")


def events(**filters) -> list[tuple]:
    return list(
        AuditEvent.objects.filter(**filters)
        .order_by("pk")
        .values_list("actor__username", "action", "object_type", "customer__name", "changes")
    )


def test_creating_a_customer_and_recording_a_purchase_are_audited_with_who_and_the_values(alice, mary):
    customer, _ = customer_create(owner=alice, name="Nadia Ortega", email="nadia@example.com", by=mary)
    product = ProductFactory()
    purchase, _ = purchase_record(
        customer=customer, product=product, ordered_at=NOW.date(), amount=1200, external_ref="o-1", recorded_by=alice
    )

    (created, recorded) = events(customer=customer)
    assert created[:4] == ("mary", AuditAction.CREATED, "customers.customer", "Nadia Ortega")
    assert created[4]["email"] == [None, "nadia@example.com"] and created[4]["owner_id"] == [None, alice.pk]
    assert recorded[:3] == ("alice", AuditAction.CREATED, "customers.purchase")
    assert recorded[4]["amount"] == [None, "1200"] and recorded[4]["external_ref"] == [None, "o-1"]
    assert recorded[4]["ordered_at"] == [None, "2026-03-02"]


def test_a_repeated_purchase_is_not_audited_twice(alice, customer):
    product = ProductFactory()
    for _ in range(2):
        purchase_record(customer=customer, product=product, ordered_at=NOW.date(), amount=1, external_ref="o-1")
    assert AuditEvent.objects.filter(object_type="customers.purchase").count() == 1


def test_touch_point_writes_are_audited(alice, customer):
    first = TouchPointFactory(customer=customer, due_at=NOW + dt.timedelta(days=1))
    second = TouchPointFactory(customer=customer, due_at=NOW + dt.timedelta(days=1))

    touchpoint_complete(touchpoint=first, by=alice, outcome=Outcome.REACHED, temperature=4)
    touchpoint_reschedule(touchpoint=second, by=alice, due_date=dt.date(2026, 3, 9), reason="Customer away")
    touchpoint_cancel(touchpoint=second, by=alice, reason="Sold the machine")
    adhoc = touchpoint_log_adhoc(customer=customer, by=alice, channel=Channel.EMAIL, outcome=Outcome.REACHED)

    trail = events(object_type="touchpoints.touchpoint")
    assert [(e[0], e[1]) for e in trail] == [
        ("alice", AuditAction.COMPLETED),
        ("alice", AuditAction.RESCHEDULED),
        ("alice", AuditAction.CANCELLED),
        ("alice", AuditAction.LOGGED),
    ]
    assert trail[0][4]["status"] == ["scheduled", "done"] and trail[0][4]["temperature"] == [None, 4]
    assert trail[1][4]["due_at"] == ["2026-03-03T09:00:00+00:00", "2026-03-09T10:00:00+00:00"]
    assert trail[2][4]["cancel_reason"] == [None, "Sold the machine"]
    assert AuditEvent.objects.filter(object_id=adhoc.pk, action=AuditAction.LOGGED).exists()
    assert all(e[3] == "Nadia Ortega" for e in trail), "each event lands on the customer's page"


def test_a_refused_write_leaves_no_event(alice, customer):
    checkup = TouchPointFactory(customer=customer)
    with pytest.raises(ValidationError):
        touchpoint_cancel(touchpoint=checkup, by=alice, reason="")
    assert not AuditEvent.objects.exists()


def test_a_new_flag_is_audited_as_raised_by_the_system_and_an_appended_one_is_not(customer):
    riskflag_raise(customer=customer, reason="detractor", detail="NPS 3")
    riskflag_raise(customer=customer, reason="detractor", detail="NPS 2")

    assert events(object_type="customers.riskflag") == [
        (None, AuditAction.RAISED, "customers.riskflag", "Nadia Ortega", {"reason": [None, "detractor"]})
    ]


def test_unsubscribe_and_resubscribe_are_audited(alice, customer):
    customer_unsubscribe(customer=customer)
    customer_unsubscribe(customer=customer)  # a second click changes nothing, records nothing
    customer_resubscribe(customer=customer, by=alice, reason="Asked on a call")

    assert [(e[0], e[1], e[4]["email_opt_out"]) for e in events(customer=customer)] == [
        (None, AuditAction.UNSUBSCRIBED, [False, True]),
        ("alice", AuditAction.RESUBSCRIBED, [True, False]),
    ]


def test_saving_a_plan_records_what_changed_including_the_steps(mary):
    plan = CheckupPlanFactory(name="Machine plan")
    step = PlanStepFactory(plan=plan, position=1, offset_days=3, channel=Channel.CALL)

    checkup_plan_save(
        plan=plan,
        name="Machine plan v2",
        steps=[StepData(offset_days=7, channel=Channel.CALL, objective="Check", step_id=step.pk)],
        by=mary,
    )

    (event,) = events(object_type="touchpoints.checkupplan")
    assert event[:2] == ("mary", AuditAction.CHANGED)
    assert event[4]["name"] == ["Machine plan", "Machine plan v2"]
    assert event[4]["steps"] == [["day 3 call"], ["day 7 call"]]


def test_long_text_and_odd_values_are_kept_json_safe(alice, customer):
    event = audit_record(actor=alice, action=AuditAction.CHANGED, obj=customer, changes={"notes": ["", "x" * 500]})
    event.refresh_from_db()
    assert len(event.changes["notes"][1]) == 200 and event.changes["notes"][1].endswith("…")


# --- The customer page --------------------------------------------------------------------------


def test_managers_see_the_audit_section_reps_do_not(client, alice, mary, customer):
    audit_record(actor=alice, action=AuditAction.CHANGED, obj=customer, changes={"phone": ["1", "<b>2</b>"]})

    client.force_login(alice)
    assert 'id="audit-heading"' not in client.get(customer.get_absolute_url()).content.decode()

    client.force_login(mary)
    page = client.get(customer.get_absolute_url()).content.decode()
    assert 'id="audit-heading"' in page
    assert "Alice Archer" in page and f"Customer #{customer.pk} changed" in page
    assert "1 → &lt;b&gt;2&lt;/b&gt;" in page, "values are escaped"
    assert reverse("customers:gdpr_erase", kwargs={"pk": customer.pk}) in page


def test_the_audit_section_costs_the_same_queries_however_long_the_trail(client, alice, mary, customer):
    client.force_login(mary)
    url = customer.get_absolute_url()
    audit_record(actor=alice, action=AuditAction.CHANGED, obj=customer, changes={"phone": ["1", "2"]})
    client.get(url)  # the first view computes the new customer's due health score (a fixed cost, once)
    with CaptureQueriesContext(connection) as small:
        client.get(url)
    for n in range(60):
        other = alice if n % 2 else mary
        audit_record(actor=other, action=AuditAction.CHANGED, obj=customer, changes={"phone": [str(n), str(n + 1)]})
    with CaptureQueriesContext(connection) as large:
        page = client.get(url).content.decode()

    assert len(large.captured_queries) == len(small.captured_queries)
    audit = page[page.index('id="audit-heading"') :]
    assert audit.count("phone:</span>") == 50 and "Showing the latest 50 changes" in audit
    # The timeline (for reps too) has every change of the customer's details, up to its own limit.
    assert page[: page.index('id="audit-heading"')].count("phone:</span>") == 61


def test_snoozing_a_flag_and_reassigning_customers_are_audited(alice, bob, mary, customer):
    flag = riskflag_raise(customer=customer, reason="detractor", detail="NPS 3")
    riskflag_snooze(flag=flag, until=NOW + dt.timedelta(days=7), reason="On holiday", by=alice)
    customers_reassign(customer_ids=[customer.pk], to_rep=bob, by=mary)

    snoozed, reassigned = events(customer=customer)[1:]
    assert snoozed[:2] == ("alice", AuditAction.SNOOZED)
    assert snoozed[4]["snoozed_until"] == [None, "2026-03-09T09:00:00+00:00"]
    assert reassigned[:3] == ("mary", AuditAction.CHANGED, "customers.customer")
    assert reassigned[4] == {"owner_id": [alice.pk, bob.pk]}
