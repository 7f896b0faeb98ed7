"""Recording a purchase: one transaction, idempotent by external_ref, and the form a rep uses."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from aftersales.mail.models import OutboxEmail
from customers.models import Purchase
from customers.services import purchases
from tests.factories import CheckupPlanFactory, CustomerFactory, PlanStepFactory, ProductFactory, PurchaseFactory
from touchpoints.models import TouchPoint
from touchpoints.services import purchase_record, sales

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)  # a Monday
TODAY = NOW.date()


@pytest.fixture(autouse=True)
def frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture
def product():
    plan = CheckupPlanFactory(name="Machine plan")
    PlanStepFactory(plan=plan, position=1, offset_days=3, objective="Check the installation works")
    PlanStepFactory(plan=plan, position=2, offset_days=30, objective="Show the three features they asked about")
    return ProductFactory(name="Espresso machine", default_plan=plan)


def record(customer, product, **overrides):
    fields = {"customer": customer, "product": product, "ordered_at": TODAY, "amount": 1200} | overrides
    return purchase_record(**fields)


def care_plan_emails():
    return OutboxEmail.objects.filter(kind=OutboxEmail.Kind.CARE_PLAN)


# --- The service --------------------------------------------------------------------


def test_recording_a_purchase_schedules_the_plan_and_queues_one_care_plan_email(alice, product):
    customer = CustomerFactory(owner=alice, email="nadia@example.com")

    purchase, created = record(customer, product, external_ref="ORD-1")

    assert created
    assert purchase.customer == customer and purchase.external_ref == "ORD-1"
    assert TouchPoint.objects.filter(purchase=purchase, assignee=alice).count() == 2
    email = care_plan_emails().get()
    assert email.to == "nadia@example.com"
    assert email.customer == customer
    assert "Check the installation works" in email.body_text


def test_the_same_external_ref_twice_records_one_purchase_schedules_once_and_mails_once(alice, product):
    customer = CustomerFactory(owner=alice)

    first, first_created = record(customer, product, external_ref="ORD-7")
    again, again_created = record(customer, product, external_ref="ORD-7", amount=999)

    assert (first_created, again_created) == (True, False)
    assert again.pk == first.pk
    assert again.amount == 1200, "a retry does not overwrite the purchase"
    assert Purchase.objects.count() == 1
    assert TouchPoint.objects.count() == 2
    assert care_plan_emails().count() == 1


def test_a_purchase_inserted_concurrently_with_the_same_ref_wins_and_nothing_is_scheduled_twice(
    alice, product, monkeypatch
):
    """The look-up missed it, the insert hits the unique constraint: the savepoint keeps the transaction usable."""
    customer = CustomerFactory(owner=alice)
    winner, _ = record(customer, product, external_ref="ORD-RACE")
    real_existing = purchases._existing
    lookups = []

    def existing_after_the_race(external_ref, customer):
        lookups.append(external_ref)
        return None if len(lookups) == 1 else real_existing(external_ref, customer)

    monkeypatch.setattr(purchases, "_existing", existing_after_the_race)
    with transaction.atomic():
        purchase, created = record(customer, product, external_ref="ORD-RACE")
        assert TouchPoint.objects.count() == 2  # the transaction still works after the IntegrityError

    assert (purchase.pk, created) == (winner.pk, False)
    assert lookups == ["ORD-RACE", "ORD-RACE"]
    assert Purchase.objects.count() == 1
    assert care_plan_emails().count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_recordings_of_one_order_make_one_purchase(product, monkeypatch):
    """Real concurrency on PostgreSQL: both calls miss the look-up, the unique index decides."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite's IMMEDIATE transactions run one writer at a time: no race to win")
    customer = CustomerFactory()
    both_looked = threading.Barrier(2, timeout=10)
    real_existing = purchases._existing
    first_lookup = threading.local()

    def existing_then_wait(external_ref, customer):
        found = real_existing(external_ref, customer)
        if not getattr(first_lookup, "done", False):
            first_lookup.done = True
            both_looked.wait()  # neither has inserted yet
        return found

    monkeypatch.setattr(purchases, "_existing", existing_then_wait)
    results, errors = [], []

    def call():
        try:
            results.append(record(customer, product, external_ref="ORD-CONCURRENT")[1])
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=call) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert sorted(results) == [False, True]
    assert Purchase.objects.count() == 1
    assert TouchPoint.objects.count() == 2
    assert care_plan_emails().count() == 1


def test_an_integrity_error_that_is_not_a_duplicate_ref_is_raised(alice, product, monkeypatch):
    customer = CustomerFactory(owner=alice)

    def failing_save(self, *args, **kwargs):
        raise IntegrityError("something else")

    monkeypatch.setattr(Purchase, "save", failing_save)
    with pytest.raises(IntegrityError):
        record(customer, product)


def test_a_ref_already_used_for_another_customer_is_refused_and_nothing_is_written(alice, bob, product):
    PurchaseFactory(customer=CustomerFactory(owner=bob), external_ref="ORD-9")

    with pytest.raises(ValidationError) as error:
        record(CustomerFactory(owner=alice), product, external_ref="ORD-9")

    assert "external_ref" in error.value.message_dict
    assert Purchase.objects.count() == 1
    assert not TouchPoint.objects.exists()
    assert not care_plan_emails().exists()


def test_a_failure_after_the_email_was_queued_rolls_everything_back(alice, product, monkeypatch):
    customer = CustomerFactory(owner=alice)
    real_send = sales.careplan_send

    def send_then_fail(**kwargs):
        assert real_send(**kwargs) is not None
        raise RuntimeError("the database went away")

    monkeypatch.setattr(sales, "careplan_send", send_then_fail)
    with pytest.raises(RuntimeError):
        record(customer, product, external_ref="ORD-2")

    assert not Purchase.objects.exists()
    assert not TouchPoint.objects.exists()
    assert not OutboxEmail.objects.exists()


@pytest.mark.parametrize(
    ("customer_fields", "why"),
    [
        ({"email_opt_out": True}, "opted out"),
        ({"email": ""}, "no address"),
    ],
)
def test_no_care_plan_email_for_a_customer_who_cannot_be_mailed(alice, product, customer_fields, why):
    customer = CustomerFactory(owner=alice, **customer_fields)

    purchase, created = record(customer, product)

    assert created
    assert TouchPoint.objects.filter(purchase=purchase).count() == 2, "the check-ups are scheduled all the same"
    assert not OutboxEmail.objects.exists(), why


def test_no_care_plan_email_when_nothing_is_coming_up(alice):
    customer = CustomerFactory(owner=alice)

    record(customer, ProductFactory(default_plan=None))

    assert not TouchPoint.objects.exists()
    assert not OutboxEmail.objects.exists()


def test_the_last_day_of_the_window_is_accepted_and_schedules_its_checkups(alice, product):
    """Twenty years ahead is the last date taken: its check-ups (day 3, day 30) are still ordinary dates."""
    purchase, created = record(CustomerFactory(owner=alice), product, ordered_at=dt.date(2046, 3, 2))

    assert created
    assert purchase.touchpoints.count() == 2


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"ordered_at": dt.date(9999, 12, 31)}, "ordered_at"),
        ({"renewal_date": dt.date(9999, 12, 31)}, "renewal_date"),
        ({"delivered_at": dt.date(9999, 12, 31)}, "delivered_at"),
        ({"amount": 10**10}, "amount"),
        ({"currency": "ZZZ"}, "currency"),
    ],
)
def test_the_service_applies_the_input_rules_for_any_caller(alice, product, overrides, field):
    """A script calling purchase_record directly meets the form's rules: a ValidationError, never an OverflowError."""
    with pytest.raises(ValidationError) as raised:
        record(CustomerFactory(owner=alice), product, **overrides)

    assert set(raised.value.message_dict) == {field}
    assert not Purchase.objects.exists()


def test_a_sale_without_an_amount_is_worth_zero(alice, product):
    purchase, _ = purchase_record(customer=CustomerFactory(owner=alice), product=product, ordered_at=TODAY)

    assert purchase.amount == 0


def test_data_the_model_refuses_raises_and_writes_nothing(alice, product):
    with pytest.raises(ValidationError):
        record(CustomerFactory(owner=alice), product, delivered_at=TODAY - dt.timedelta(days=1))
    with pytest.raises(ValidationError):
        record(CustomerFactory(owner=alice), product, plan=CheckupPlanFactory(active=False))

    assert not Purchase.objects.exists()
    assert not OutboxEmail.objects.exists()


# --- The form -----------------------------------------------------------------------


def form_data(product, **overrides) -> dict:
    return {
        "product": product.pk,
        "plan": "",
        "ordered_at": TODAY.isoformat(),
        "delivered_at": "",
        "amount": "1200.00",
        "currency": "eur",
        "renewal_date": "",
        "external_ref": "",
    } | overrides


def test_a_rep_records_a_purchase_for_their_customer_and_the_checkups_appear(alice_client, alice, product):
    customer = CustomerFactory(owner=alice, email="nadia@example.com")
    url = reverse("customers:purchase_create", args=[customer.pk])

    page = alice_client.get(url)
    response = alice_client.post(url, form_data(product, renewal_date="2027-03-02"), follow=True)

    assert page.status_code == 200
    assert "Record a purchase" in page.content.decode()
    assert response.redirect_chain == [(customer.get_absolute_url(), 302)]
    purchase = Purchase.objects.get()
    assert (purchase.customer, purchase.currency) == (customer, "EUR")
    assert TouchPoint.objects.filter(customer=customer, assignee=alice).count() == 4  # 2 steps + 2 renewal calls
    content = response.content.decode()
    assert "Purchase recorded: 4 check-ups scheduled." in content
    assert "nadia@example.com" in content
    assert "Check the installation works" in content
    assert care_plan_emails().count() == 1


def test_the_customer_page_links_to_the_purchase_form(alice_client, alice):
    customer = CustomerFactory(owner=alice)

    response = alice_client.get(customer.get_absolute_url())

    assert reverse("customers:purchase_create", args=[customer.pk]) in response.content.decode()


def test_another_reps_customer_is_a_404_and_nothing_is_written(alice_client, bob, product):
    customer = CustomerFactory(owner=bob)
    url = reverse("customers:purchase_create", args=[customer.pk])

    assert alice_client.get(url).status_code == 404
    assert alice_client.post(url, form_data(product)).status_code == 404
    assert not Purchase.objects.exists()
    assert not TouchPoint.objects.exists()
    assert not OutboxEmail.objects.exists()


def test_a_manager_records_a_purchase_for_any_customer(mary_client, alice, product):
    customer = CustomerFactory(owner=alice)

    response = mary_client.post(reverse("customers:purchase_create", args=[customer.pk]), form_data(product))

    assert response.status_code == 302
    assert set(TouchPoint.objects.values_list("assignee", flat=True)) == {alice.pk}, "assigned to the owner"


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"delivered_at": "2026-03-01"}, "delivered_at", "Delivery cannot come before the order."),
        ({"renewal_date": "2026-03-02"}, "renewal_date", "The renewal date must come after the order."),
        ({"amount": "-5"}, "amount", "Amount: use an amount from 0 to 9,999,999,999.99."),
        ({"amount": "10000000000"}, "amount", "Amount: use an amount from 0 to 9,999,999,999.99."),
        ({"amount": "1e400"}, "amount", "Amount: use an amount from 0 to 9,999,999,999.99."),
        ({"amount": "1.005"}, "amount", "no more than 2 decimal places"),
        ({"currency": "E1"}, "currency", "three-letter currency code"),
        ({"currency": "XYZ"}, "currency", "Currency: use a three-letter currency code (ISO 4217)"),
        ({"ordered_at": "yesterday"}, "ordered_at", "Enter a valid date."),
        # Year 9999 used to reach the plan's calendar arithmetic and end in an OverflowError (a 500).
        ({"ordered_at": "9999-06-01"}, "ordered_at", "Ordered on: use a date from 2000-01-01 to 2046-03-02."),
        ({"ordered_at": "1999-12-31"}, "ordered_at", "Ordered on: use a date from 2000-01-01 to 2046-03-02."),
        ({"delivered_at": "9999-12-31"}, "delivered_at", "Delivered on: use a date from 2000-01-01"),
        ({"renewal_date": "9999-12-31"}, "renewal_date", "Renewal date: use a date from 2000-01-01"),
    ],
)
def test_bad_input_is_reported_next_to_the_field_and_nothing_is_written(
    alice_client, alice, product, overrides, field, message
):
    customer = CustomerFactory(owner=alice)

    response = alice_client.post(
        reverse("customers:purchase_create", args=[customer.pk]), form_data(product, **overrides)
    )

    assert response.status_code == 200
    assert any(message in error for error in response.context["form"].errors[field])
    assert f'id="error_1_id_{field}"' in response.content.decode()
    assert not Purchase.objects.exists()
    assert not TouchPoint.objects.exists()


def test_submitting_the_same_order_reference_twice_schedules_nothing_twice(alice_client, alice, product):
    customer = CustomerFactory(owner=alice)
    url = reverse("customers:purchase_create", args=[customer.pk])

    alice_client.post(url, form_data(product, external_ref="ORD-42"))
    response = alice_client.post(url, form_data(product, external_ref="ORD-42"), follow=True)

    assert "This order was already recorded; nothing was scheduled twice." in response.content.decode()
    assert Purchase.objects.count() == 1
    assert TouchPoint.objects.count() == 2
    assert care_plan_emails().count() == 1


def test_an_order_reference_of_another_customer_is_a_form_error(alice_client, alice, bob, product):
    PurchaseFactory(customer=CustomerFactory(owner=bob), external_ref="ORD-9")
    customer = CustomerFactory(owner=alice)

    response = alice_client.post(
        reverse("customers:purchase_create", args=[customer.pk]), form_data(product, external_ref="ORD-9")
    )

    assert response.status_code == 200
    assert response.context["form"].errors["external_ref"] == [
        "This order reference is already recorded for another customer."
    ]
    assert not Purchase.objects.filter(customer=customer).exists()
