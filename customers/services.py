"""Writes on customers and what they bought."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from touchpoints.careplan import careplan_send
from touchpoints.planning import touchpoints_schedule

from .models import Customer, Product, Purchase


@transaction.atomic
def purchase_record(
    *,
    customer: Customer,
    product: Product,
    ordered_at: dt.date,
    delivered_at: dt.date | None = None,
    amount: Decimal | int,
    currency: str = "EUR",
    renewal_date: dt.date | None = None,
    plan=None,
    external_ref: str | None = None,
    recorded_by=None,
) -> tuple[Purchase, bool]:
    """Record a sale, schedule its check-ups and queue the care-plan email, all in one transaction.

    Idempotent by ``external_ref`` (the order number of the shop or ERP): the
    same reference again returns the purchase already recorded with
    ``created=False`` and schedules and sends nothing. A reference already
    used for another customer is not a retry but a mistake, and raises.

    Raises ValidationError for data the model refuses (delivery before the
    order, a negative amount, an inactive plan).
    """
    external_ref = (external_ref or "").strip() or None
    if external_ref is not None:
        existing = _existing(external_ref, customer)
        if existing is not None:
            return existing, False
    if plan is not None and not plan.active:
        raise ValidationError({"plan": _("This check-up plan is no longer in use; pick another one.")})

    purchase = Purchase(
        customer=customer,
        product=product,
        plan=plan,
        ordered_at=ordered_at,
        delivered_at=delivered_at,
        amount=amount,
        currency=currency.upper(),
        renewal_date=renewal_date,
        external_ref=external_ref,
    )
    # Uniqueness of external_ref is left to the database below (a check here would race).
    purchase.full_clean(validate_unique=False)
    try:
        # A savepoint: if a concurrent call inserted the same reference since
        # our look-up, its row wins and this transaction stays usable.
        with transaction.atomic():
            purchase.save()
    except IntegrityError:
        existing = _existing(external_ref, customer) if external_ref is not None else None
        if existing is None:
            raise
        return existing, False

    touchpoints_schedule(purchase=purchase, created_by=recorded_by)
    careplan_send(customer=customer, purchase=purchase)
    return purchase, True


def _existing(external_ref: str, customer: Customer) -> Purchase | None:
    existing = Purchase.objects.select_related("customer", "product").filter(external_ref=external_ref).first()
    if existing is not None and existing.customer_id != customer.pk:
        raise ValidationError({"external_ref": _("This order reference is already recorded for another customer.")})
    return existing
