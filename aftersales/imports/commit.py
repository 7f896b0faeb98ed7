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

from aftersales.core.roles import Actor
from aftersales.imports.validation import Preview, _chunks
from customers.models import Customer, Product, Purchase
from customers.services.bulk import (
    CUSTOMER_FIELDS,
    PURCHASE_FIELDS,
    customers_upsert_by_ref,
    purchases_upsert_by_ref,
)
from touchpoints.planning import touchpoints_schedule_bulk

BATCH = 2000

Progress = Callable[[str, int, int], None]


def _no_progress(stage: str, done: int, total: int) -> None:
    return None


@transaction.atomic
def import_commit(
    *, preview: Preview, by: Actor, default_owner: Actor | None = None, progress: Progress = _no_progress
) -> dict[str, int]:
    """Write what ``preview`` found (it must have no errors); return counts of what changed."""
    if preview.errors:
        raise ValueError("A file with errors is never written; fix them first.")
    owner_id = (default_owner or by).pk
    customers, new_customers, updated_customers = _save_customers(preview, owner_id, progress)
    new_purchases, updated_purchases = _save_purchases(preview, customers, progress)
    progress("scheduling", 0, len(new_purchases))
    scheduled = 0
    for done, chunk in enumerate(_chunks(new_purchases, BATCH), start=1):
        scheduled += touchpoints_schedule_bulk(purchases=chunk, created_by=by)
        progress("scheduling", min(done * BATCH, len(new_purchases)), len(new_purchases))
    return {
        "new_customers": new_customers,
        "updated_customers": updated_customers,
        "new_purchases": len(new_purchases),
        "updated_purchases": updated_purchases,
        "checkups_scheduled": scheduled,
    }


def _save_customers(preview: Preview, owner_id: int, progress: Progress) -> tuple[dict[str, Customer], int, int]:
    rows = list(preview.customers.values())
    by_ref: dict[str, Customer] = {}
    new_count = changed_count = 0
    # Batch by batch, each written before the next is read: progress (which renews a worker's lease,
    # aftersales/imports/jobs.py) is reported at least every BATCH rows, whatever the file's size.
    for done, chunk in enumerate(_chunks(rows, BATCH), start=1):
        written, new, changed = customers_upsert_by_ref(
            rows=[
                {"external_ref": row.external_ref, **{name: getattr(row, name) for name in CUSTOMER_FIELDS}}
                for row in chunk
            ],
            default_owner_id=owner_id,
        )
        by_ref.update(written)
        new_count, changed_count = new_count + new, changed_count + changed
        progress("customers", min(done * BATCH, len(rows)), len(rows))
    return by_ref, new_count, changed_count


def _save_purchases(preview: Preview, customers: dict[str, Customer], progress: Progress) -> tuple[list, int]:
    products = Product.objects.in_bulk({row.product_id for row in preview.purchases})
    rows = preview.purchases
    new: list[Purchase] = []
    changed_count = 0
    for done, chunk in enumerate(_chunks(rows, BATCH), start=1):
        created, changed = purchases_upsert_by_ref(
            rows=[
                {"external_ref": row.external_ref, "customer_ref": row.customer_ref}
                | {name: getattr(row, name) for name in PURCHASE_FIELDS}
                for row in chunk
            ],
            customers=customers,
            products=products,
        )
        new += created
        changed_count += changed
        progress("purchases", min(done * BATCH, len(rows)), len(rows))
    return new, changed_count
