"""Writing a previewed file: everything or nothing, idempotent by external_ref.

One transaction: if any row fails at the database (a concurrent import took
an order reference meanwhile, say), nothing of the file is kept. Customers
and purchases already known by their external_ref are updated in place —
only the rows whose values changed — so importing the same file twice
changes nothing the second time. New purchases get their check-ups from
``touchpoints_schedule_bulk``: the same planning rules as ``purchase_record``
(one source of truth in touchpoints/planning.py), in batches.

Two things ``purchase_record`` does are left out on purpose: imported sales
are mostly history, so no care-plan email goes to every customer in the file
and no ``purchase.recorded`` webhook fires per row (a re-synced ERP would
echo its own data back).
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction

from aftersales.imports.validation import Preview, _chunks
from customers.models import Customer, Product, Purchase
from touchpoints.planning import touchpoints_schedule_bulk

CUSTOMER_FIELDS = ("name", "company", "email", "phone", "language", "timezone", "owner_id")
PURCHASE_FIELDS = ("product_id", "ordered_at", "delivered_at", "amount", "currency", "renewal_date")
BATCH = 2000

Progress = Callable[[str, int, int], None]


def _no_progress(stage: str, done: int, total: int) -> None:
    return None


@transaction.atomic
def import_commit(*, preview: Preview, by, default_owner=None, progress: Progress = _no_progress) -> dict:
    """Write what ``preview`` found (it must have no errors); return counts of what changed."""
    if preview.errors:
        raise ValueError("A file with errors is never written; fix them first.")
    owner_id = (default_owner or by).pk
    customers, new_customers, updated_customers = _save_customers(preview, owner_id, progress)
    new_purchases, updated_purchases = _save_purchases(preview, customers, progress)
    progress("scheduling", 0, len(new_purchases))
    scheduled = touchpoints_schedule_bulk(purchases=new_purchases, created_by=by)
    progress("scheduling", len(new_purchases), len(new_purchases))
    return {
        "new_customers": new_customers,
        "updated_customers": updated_customers,
        "new_purchases": len(new_purchases),
        "updated_purchases": updated_purchases,
        "checkups_scheduled": scheduled,
    }


def _changed(instance, values: dict) -> bool:
    changed = False
    for name, value in values.items():
        if value is not None and getattr(instance, name) != value:
            setattr(instance, name, value)
            changed = True
    return changed


def _save_customers(preview: Preview, owner_id: int, progress: Progress) -> tuple[dict[str, Customer], int, int]:
    rows = list(preview.customers.values())
    by_ref: dict[str, Customer] = {}
    new, changed = [], []
    for done, chunk in enumerate(_chunks(rows, BATCH), start=1):
        existing = Customer.objects.in_bulk([row.external_ref for row in chunk], field_name="external_ref")
        # A reference of a customer merged into another: its sales go to that other one, whose details stay.
        survivors = Customer.objects.in_bulk({c.merged_into_id for c in existing.values() if c.merged_into_id})
        for row in chunk:
            known = existing.get(row.external_ref)
            if known is not None and known.merged_into_id is not None:
                by_ref[row.external_ref] = survivors[known.merged_into_id]
                continue
            values = {
                "name": row.name,
                "company": row.company,
                "email": row.email,
                "phone": row.phone,
                "language": row.language,
                "timezone": row.timezone,
                "owner_id": row.owner_id,
            }
            customer = existing.get(row.external_ref)
            if customer is None:
                values = {key: value for key, value in values.items() if value is not None}
                customer = Customer(external_ref=row.external_ref, **{"owner_id": owner_id, **values})
                new.append(customer)
            elif _changed(customer, values):
                changed.append(customer)
            by_ref[row.external_ref] = customer
        progress("customers", min(done * BATCH, len(rows)), len(rows))
    Customer.objects.bulk_create(new, batch_size=BATCH)
    Customer.objects.bulk_update(changed, CUSTOMER_FIELDS, batch_size=500)
    return by_ref, len(new), len(changed)


def _save_purchases(preview: Preview, customers: dict[str, Customer], progress: Progress) -> tuple[list, int]:
    products = Product.objects.in_bulk({row.product_id for row in preview.purchases})
    rows = preview.purchases
    new, changed = [], []
    for done, chunk in enumerate(_chunks(rows, BATCH), start=1):
        existing = Purchase.objects.in_bulk([row.external_ref for row in chunk], field_name="external_ref")
        for row in chunk:
            values = {name: getattr(row, name) for name in PURCHASE_FIELDS}
            purchase = existing.get(row.external_ref)
            if purchase is None:
                purchase = Purchase(external_ref=row.external_ref, customer=customers[row.customer_ref], **values)
                purchase.product = products[row.product_id]
                new.append(purchase)
            else:
                # Nullable dates cleared in the file stay as recorded: an export with a blank cell is not a decision.
                if _changed(purchase, values):
                    changed.append(purchase)
        progress("purchases", min(done * BATCH, len(rows)), len(rows))
    Purchase.objects.bulk_create(new, batch_size=BATCH)
    Purchase.objects.bulk_update(changed, PURCHASE_FIELDS, batch_size=500)
    return new, len(changed)
