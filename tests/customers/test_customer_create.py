"""Creating a customer (customers/services/customers.py): validated, audited, idempotent by external reference."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from aftersales.audit.models import AuditAction, AuditEvent
from customers.models import Customer
from customers.services import customer_create

pytestmark = pytest.mark.django_db


def test_a_reference_is_trimmed_and_the_same_reference_again_returns_the_customer_on_file(alice, bob):
    first, first_created = customer_create(owner=alice, name="Nadia Ortega", external_ref="  shop-41 ")
    again, again_created = customer_create(owner=bob, name="Someone else", external_ref="shop-41")

    assert (first_created, again_created) == (True, False)
    assert again.pk == first.pk and first.external_ref == "shop-41"
    assert (again.name, again.owner) == ("Nadia Ortega", alice), "a retry does not overwrite the customer"
    assert AuditEvent.objects.filter(object_type="customers.customer").count() == 1


def test_a_blank_reference_is_no_reference_so_two_such_customers_are_two_rows(alice):
    one, _ = customer_create(owner=alice, name="One", external_ref="   ")
    two, _ = customer_create(owner=alice, name="Two", external_ref="")

    assert one.pk != two.pk
    assert one.external_ref is None and two.external_ref is None


def test_data_the_model_refuses_is_raised_per_field_and_nothing_is_written(alice):
    with pytest.raises(ValidationError) as error:
        customer_create(owner=alice, name="Nadia", email="not an address", timezone="Mars/Olympus")

    assert {"email", "timezone"} <= set(error.value.message_dict)
    assert not Customer.objects.exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_creations_with_one_reference_make_one_customer(alice, monkeypatch):
    """Real concurrency on PostgreSQL: both calls miss the look-up, the unique index decides, the loser
    returns the winner's row instead of failing (a shop pushing the same order twice at once)."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite's IMMEDIATE transactions run one writer at a time: no race to win")
    both_looked = threading.Barrier(2, timeout=10)
    real_full_clean = Customer.full_clean

    def full_clean_then_wait(self, *args, **kwargs):
        real_full_clean(self, *args, **kwargs)
        both_looked.wait()  # both have looked the reference up; neither has inserted

    monkeypatch.setattr(Customer, "full_clean", full_clean_then_wait)
    results, errors = [], []

    def create(name: str) -> None:
        try:
            results.append(customer_create(owner=alice, name=name, external_ref="shop-77"))
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=create, args=(name,)) for name in ("First", "Second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert sorted(created for _, created in results) == [False, True]
    assert len({customer.pk for customer, _ in results}) == 1, "both callers get the same row"
    assert Customer.objects.filter(external_ref="shop-77").count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.CREATED, object_type="customers.customer").count() == 1
