"""The at-risk list (/risk/): who is flagged and why, filters, scoping, bulk reassign and snoozing."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from customers.models import Customer, RiskFlag
from customers.services import riskflag_snooze
from tests.factories import (
    CustomerFactory,
    ProductFactory,
    PurchaseFactory,
    RepFactory,
    RiskFlagFactory,
    TouchPointFactory,
)
from touchpoints.models import Status, TouchPoint
from touchpoints.services import customers_reassign

NOW = dt.datetime(2026, 6, 10, 9, 0, tzinfo=dt.UTC)
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def _flagged(owner, *, reason="gone_quiet", **kwargs) -> Customer:
    customer = CustomerFactory(owner=owner, **kwargs)
    RiskFlagFactory(customer=customer, reason=reason, detail="No call since March")
    return customer


def _names(response) -> set[str]:
    return {customer.name for customer in response.context["customers"]}


def test_the_list_shows_each_flagged_customer_with_reasons_health_contact_owner_product_and_next_touch(
    mary_client, alice
):
    product = ProductFactory(name="Heat pump")
    customer = _flagged(
        alice, name="Ana Flagged", health_score=34, last_contact_at=NOW - dt.timedelta(days=52), reason="detractor"
    )
    RiskFlagFactory(customer=customer, reason="overdue_checkups")
    PurchaseFactory(customer=customer, product=product)
    TouchPointFactory(customer=customer, due_at=NOW + dt.timedelta(days=3))
    CustomerFactory(owner=alice, name="Calm Customer")

    response = mary_client.get(reverse("risk:list"))

    assert response.status_code == 200
    assert _names(response) == {"Ana Flagged"}
    row = response.content.decode()
    assert "Detractor" in row and "Overdue check-ups" in row
    assert ">52<" in row  # days since the last two-way contact
    assert "Heat pump" in row
    assert "13 Jun 2026" in row  # next scheduled touch point
    assert "Alice Archer" in row
    assert 'class="badge health-red"' in row


def test_a_rep_sees_only_their_own_customers_at_risk_even_when_asking_for_another_rep(alice_client, alice, bob):
    _flagged(alice, name="Alice's")
    _flagged(bob, name="Bob's")

    mine = alice_client.get(reverse("risk:list"))
    asked = alice_client.get(reverse("risk:list"), {"rep": bob.pk})

    assert _names(mine) == {"Alice's"}
    assert _names(asked) == {"Alice's"}  # the rep filter does not exist for reps
    assert "Bob&#x27;s" not in asked.content.decode()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"rep": "bob"}, {"Bob quiet"}),
        ({"reason": "detractor"}, {"Alice detractor"}),
        ({"band": "red"}, {"Alice detractor"}),
        ({"language": "es"}, {"Bob quiet"}),
        ({"product": "pump"}, {"Alice quiet"}),
        ({"reason": "nonsense", "band": "purple"}, {"Alice quiet", "Alice detractor", "Bob quiet"}),
    ],
)
def test_filters_narrow_the_list(mary_client, alice, bob, query, expected):
    pump = ProductFactory(name="Pump")
    quiet = _flagged(alice, name="Alice quiet", health_score=60)
    PurchaseFactory(customer=quiet, product=pump)
    _flagged(alice, name="Alice detractor", reason="detractor", health_score=20)
    _flagged(bob, name="Bob quiet", language="es", health_score=90)
    ids = {"bob": bob.pk, "pump": pump.pk}
    params = {key: ids.get(value, value) for key, value in query.items()}

    response = mary_client.get(reverse("risk:list"), params)

    assert _names(response) == expected


def test_sorting_by_health_puts_the_worst_first_by_default_and_reverses(mary_client, alice):
    for name, score in (("Middling", 60), ("Worst", 10), ("Best", 95)):
        _flagged(alice, name=name, health_score=score)

    default = mary_client.get(reverse("risk:list"))
    reverse_order = mary_client.get(reverse("risk:list"), {"sort": "-health"})

    assert [c.name for c in default.context["customers"]] == ["Worst", "Middling", "Best"]
    assert [c.name for c in reverse_order.context["customers"]] == ["Best", "Middling", "Worst"]


def test_the_query_count_does_not_grow_with_the_data(mary_client, alice, django_assert_num_queries):
    def build(n):
        product = ProductFactory()
        for _ in range(n):
            customer = _flagged(alice, health_score=40)
            RiskFlagFactory(customer=customer, reason="detractor")
            PurchaseFactory(customer=customer, product=product)
            TouchPointFactory(customer=customer, due_at=NOW + dt.timedelta(days=2))

    build(2)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small:
        assert mary_client.get(reverse("risk:list")).status_code == 200
    build(20)
    with django_assert_num_queries(len(small.captured_queries)):
        response = mary_client.get(reverse("risk:list"))
    assert len(response.context["customers"]) == 22


# --- Bulk reassign -------------------------------------------------------------------------------


def test_a_manager_reassigns_the_ticked_customers_with_their_scheduled_touch_points(mary_client, alice, bob):
    first, second, stays = (_flagged(alice) for _ in range(3))
    scheduled = TouchPointFactory(customer=first, due_at=NOW + dt.timedelta(days=5))
    done = TouchPointFactory(customer=first, status=Status.DONE, completed_at=NOW, due_at=NOW)

    response = mary_client.post(
        reverse("risk:reassign"),
        {"customer": [first.pk, second.pk], "to_rep": bob.pk, "next": reverse("risk:list") + "?band=red"},
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("risk:list") + "?band=red"
    assert set(Customer.objects.filter(owner=bob).values_list("pk", flat=True)) == {first.pk, second.pk}
    assert Customer.objects.get(pk=stays.pk).owner == alice
    assert TouchPoint.objects.get(pk=scheduled.pk).assignee == bob
    assert TouchPoint.objects.get(pk=done.pk).assignee == alice  # history keeps who did it


def test_a_rep_cannot_reassign(alice_client, alice, bob):
    customer = _flagged(alice)

    response = alice_client.post(reverse("risk:reassign"), {"customer": [customer.pk], "to_rep": bob.pk})

    assert response.status_code == 403
    assert Customer.objects.get(pk=customer.pk).owner == alice


def test_reassign_service_refuses_an_inactive_rep_and_a_rep_caller(mary, alice):
    customer = _flagged(alice)
    gone = RepFactory(is_active=False)

    with pytest.raises(ValidationError):
        customers_reassign(customer_ids=[customer.pk], to_rep=gone, by=mary)
    with pytest.raises(PermissionDenied):
        customers_reassign(customer_ids=[customer.pk], to_rep=gone, by=alice)


def test_reassign_ignores_an_offsite_next(mary_client, alice, bob):
    customer = _flagged(alice)

    response = mary_client.post(
        reverse("risk:reassign"), {"customer": [customer.pk], "to_rep": bob.pk, "next": "https://evil.example/"}
    )

    assert response["Location"] == reverse("risk:list")


@pytest.mark.parametrize("next_url", ["-1", "home", "' OR '1'='1' --"])
def test_reassign_ignores_a_next_that_is_no_path(mary_client, alice, bob, next_url):
    """``redirect("-1")`` looked for a view named "-1" and raised NoReverseMatch: a 500."""
    customer = _flagged(alice)

    response = mary_client.post(
        reverse("risk:reassign"), {"customer": [customer.pk], "to_rep": bob.pk, "next": next_url}
    )

    assert response["Location"] == reverse("risk:list")


# --- Snooze --------------------------------------------------------------------------------------


def test_a_snoozed_flag_leaves_the_list_and_comes_back_by_itself(alice_client, alice):
    customer = _flagged(alice, name="Snoozy")
    flag = customer.flags.get()
    until = (NOW + dt.timedelta(days=7)).date()

    response = alice_client.post(
        reverse("risk:snooze", args=[flag.pk]), {"until": until.isoformat(), "reason": "On holiday until then"}
    )

    assert response.status_code == 302
    flag.refresh_from_db()
    assert flag.data["snooze"]["reason"] == "On holiday until then"
    assert _names(alice_client.get(reverse("risk:list"))) == set()
    with time_machine.travel(NOW + dt.timedelta(days=7, hours=1), tick=False):
        alice_client.force_login(alice)  # the session of a week ago has expired
        assert _names(alice_client.get(reverse("risk:list"))) == {"Snoozy"}


def test_snoozing_needs_a_reason_and_a_future_day(alice_client, alice):
    flag = _flagged(alice).flags.get()

    response = alice_client.post(reverse("risk:snooze", args=[flag.pk]), {"until": NOW.date().isoformat()})

    assert response.status_code == 200
    assert "Pick a day after today." in response.content.decode()
    assert RiskFlag.objects.get(pk=flag.pk).snoozed_until is None


def test_the_snooze_service_refuses_another_reps_flag_and_the_past(alice, bob):
    flag = _flagged(bob).flags.get()

    with pytest.raises(PermissionDenied):
        riskflag_snooze(flag=flag, until=NOW + dt.timedelta(days=2), reason="mine now", by=alice)
    with pytest.raises(ValidationError):
        riskflag_snooze(flag=flag, until=NOW - dt.timedelta(days=1), reason="late", by=bob)
    assert RiskFlag.objects.get(pk=flag.pk).snoozed_until is None


def test_a_resolved_flag_cannot_be_snoozed(alice_client, alice):
    flag = _flagged(alice).flags.get()
    RiskFlag.objects.filter(pk=flag.pk).update(resolved_at=timezone.now())

    response = alice_client.get(reverse("risk:snooze", args=[flag.pk]))

    assert response.status_code == 404


def test_the_sort_select_shows_the_default_order(mary_client):
    form = mary_client.get(reverse("risk:list")).context["form"]

    assert list(form.fields["sort"].choices)[0] == ("health", "Health (ascending)")
