"""Writes of many customers and purchases at once, keyed by their external reference (a spreadsheet import).

Each call writes one batch: the rows already known by ``external_ref`` are
updated in place, only where a value given differs (so the same batch twice
changes nothing), the others are created. A value of None means "not given"
and never clears a field: an export with a blank cell is not a decision.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from customers.models import Customer, Product, Purchase

CUSTOMER_FIELDS = ("name", "company", "email", "phone", "language", "timezone", "owner_id")
PURCHASE_FIELDS = ("product_id", "ordered_at", "delivered_at", "amount", "currency", "renewal_date")
BATCH = 2000


def _changed(instance: Customer | Purchase, values: Mapping[str, Any]) -> bool:
    changed = False
    for name, value in values.items():
        if value is not None and getattr(instance, name) != value:
            setattr(instance, name, value)
            changed = True
    return changed


def customers_upsert_by_ref(
    *, rows: Sequence[Mapping[str, Any]], default_owner_id: int
) -> tuple[dict[str, Customer], int, int]:
    """One batch of customers (``external_ref`` plus CUSTOMER_FIELDS): ({ref: customer}, created, updated)."""
    existing = Customer.objects.in_bulk([row["external_ref"] for row in rows], field_name="external_ref")
    # A reference of a customer merged into another: its sales go to that other one, whose details stay.
    survivors = Customer.objects.in_bulk({c.merged_into_id for c in existing.values() if c.merged_into_id})
    by_ref: dict[str, Customer] = {}
    new: list[Customer] = []
    changed: list[Customer] = []
    for row in rows:
        known = existing.get(row["external_ref"])
        if known is not None and known.merged_into_id is not None:
            by_ref[row["external_ref"]] = survivors[known.merged_into_id]
            continue
        values = {name: row.get(name) for name in CUSTOMER_FIELDS}
        customer = existing.get(row["external_ref"])
        if customer is None:
            given = {key: value for key, value in values.items() if value is not None}
            customer = Customer(external_ref=row["external_ref"], **{"owner_id": default_owner_id, **given})
            new.append(customer)
        elif _changed(customer, values):
            changed.append(customer)
        by_ref[row["external_ref"]] = customer
    Customer.objects.bulk_create(new, batch_size=BATCH)
    Customer.objects.bulk_update(changed, CUSTOMER_FIELDS, batch_size=500)
    return by_ref, len(new), len(changed)


def purchases_upsert_by_ref(
    *, rows: Sequence[Mapping[str, Any]], customers: Mapping[str, Customer], products: Mapping[int, Product]
) -> tuple[list[Purchase], int]:
    """One batch of purchases (``external_ref``, ``customer_ref`` plus PURCHASE_FIELDS): (created, updated count)."""
    existing = Purchase.objects.in_bulk([row["external_ref"] for row in rows], field_name="external_ref")
    created: list[Purchase] = []
    changed: list[Purchase] = []
    for row in rows:
        values = {name: row[name] for name in PURCHASE_FIELDS}
        purchase = existing.get(row["external_ref"])
        if purchase is None:
            purchase = Purchase(external_ref=row["external_ref"], customer=customers[row["customer_ref"]], **values)
            purchase.product = products[row["product_id"]]
            created.append(purchase)
        elif _changed(purchase, values):
            changed.append(purchase)
    new = Purchase.objects.bulk_create(created, batch_size=BATCH)
    Purchase.objects.bulk_update(changed, PURCHASE_FIELDS, batch_size=500)
    return new, len(changed)
