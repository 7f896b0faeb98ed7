"""Recording a sale: the purchase, its plan of check-ups and the care-plan email, in one transaction."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction

from aftersales.core.roles import Actor
from customers.models import Customer, Product, Purchase
from customers.services import purchase_create
from touchpoints.careplan import careplan_send
from touchpoints.models import CheckupPlan
from touchpoints.planning import touchpoints_schedule


@transaction.atomic
def purchase_record(
    *,
    customer: Customer,
    product: Product,
    ordered_at: dt.date,
    delivered_at: dt.date | None = None,
    amount: Decimal | int = 0,
    currency: str = "EUR",
    renewal_date: dt.date | None = None,
    plan: CheckupPlan | None = None,
    external_ref: str | None = None,
    recorded_by: Actor | None = None,
) -> tuple[Purchase, bool]:
    """Record a sale (``customers.services.purchase_create``), schedule its check-ups and queue the care plan.

    Idempotent by ``external_ref`` like ``purchase_create``: a sale already
    recorded is returned with ``created=False`` and nothing is scheduled or
    sent again. All or nothing: a failure anywhere rolls the purchase back.
    """
    purchase, created = purchase_create(
        customer=customer,
        product=product,
        ordered_at=ordered_at,
        delivered_at=delivered_at,
        amount=amount,
        currency=currency,
        renewal_date=renewal_date,
        plan=plan,
        external_ref=external_ref,
        recorded_by=recorded_by,
    )
    if created:
        touchpoints_schedule(purchase=purchase, created_by=recorded_by)
        careplan_send(customer=customer, purchase=purchase)
    return purchase, created
