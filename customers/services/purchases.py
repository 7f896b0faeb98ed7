"""Writes on purchases: recording a sale (idempotent by the order number)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from aftersales.audit.models import AuditAction
from aftersales.audit.services import audit_record
from aftersales.core import inputs
from aftersales.core.roles import Actor
from aftersales.webhooks.models import WebhookEvent
from aftersales.webhooks.services import webhook_emit
from customers.models import Customer, Product, Purchase
from customers.services.customers import _created

# What the audit trail keeps of a new row (notes and free text stay on the row itself).
PURCHASE_AUDIT = (
    "product_id",
    "plan_id",
    "ordered_at",
    "delivered_at",
    "amount",
    "currency",
    "renewal_date",
    "external_ref",
)


@transaction.atomic
def purchase_create(
    *,
    customer: Customer,
    product: Product,
    ordered_at: dt.date,
    delivered_at: dt.date | None = None,
    amount: Decimal | int = 0,
    currency: str = "EUR",
    renewal_date: dt.date | None = None,
    plan: Any = None,  # a touchpoints.CheckupPlan: that app is a layer above, not importable from here
    external_ref: str | None = None,
    recorded_by: Actor | None = None,
) -> tuple[Purchase, bool]:
    """Record a sale: the purchase row, its audit event, the contact clock and the ``purchase.recorded`` webhook.

    ``touchpoints.services.purchase_record`` wraps this with the check-ups and
    the care-plan email; every caller that records a sale goes through it.

    Idempotent by ``external_ref`` (the order number of the shop or ERP): the
    same reference again returns the purchase already recorded with
    ``created=False`` and schedules and sends nothing. A reference already
    used for another customer is not a retry but a mistake, and raises.

    Raises ValidationError for data the model refuses (delivery before the
    order, a negative amount, an inactive plan) and for dates, amounts and
    currencies outside aftersales.core.inputs' rules (the form and the API
    check those first; a script calling this directly meets the same rules).
    """
    currency = _check_inputs(
        ordered_at=ordered_at, delivered_at=delivered_at, renewal_date=renewal_date, amount=amount, currency=currency
    )
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
        currency=currency,
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

    audit_record(
        actor=recorded_by, action=AuditAction.CREATED, obj=purchase, changes=_created(purchase, PURCHASE_AUDIT)
    )
    # The contact clock starts with the first sale (a customer never reached must still go quiet), and
    # the new check-ups and renewal date are signals of the health score (aftersales/health/services.py).
    Customer.objects.filter(pk=customer.pk, quiet_after__isnull=True).update(
        quiet_after=customer.quiet_after_from(timezone.now())
    )
    Customer.objects.filter(pk=customer.pk).mark_health_due()
    webhook_emit(event=WebhookEvent.PURCHASE_RECORDED, payload=purchase_event_payload(purchase))
    return purchase, True


def _check_inputs(
    *,
    ordered_at: dt.date,
    delivered_at: dt.date | None,
    renewal_date: dt.date | None,
    amount: Decimal | int = 0,
    currency: str,
) -> str:
    """Raise one ValidationError naming every field outside the input rules; return the currency code."""
    errors: dict[str, list[str]] = {}
    checks: list[tuple[str, object, Callable[..., object]]] = [
        ("ordered_at", ordered_at, inputs.check_date),
        ("delivered_at", delivered_at, inputs.check_date),
        ("renewal_date", renewal_date, inputs.check_date),
        ("amount", amount, inputs.check_amount),
        ("currency", currency, inputs.check_currency),
    ]
    for name, value, check in checks:
        if value is None:
            continue
        try:
            check(value, label=name)
        except ValidationError as exc:
            errors[name] = exc.messages
    if errors:
        raise ValidationError(errors)
    return currency.strip().upper()


def purchase_event_payload(purchase: Purchase) -> dict[str, Any]:
    """What a ``purchase.recorded`` webhook tells the receiver."""
    customer = purchase.customer
    return {
        "purchase": {
            "id": purchase.pk,
            "external_ref": purchase.external_ref,
            "product": purchase.product.sku,
            "ordered_at": purchase.ordered_at,
            "delivered_at": purchase.delivered_at,
            "amount": str(purchase.amount),
            "currency": purchase.currency,
        },
        "customer": {"id": customer.pk, "external_ref": customer.external_ref, "name": customer.name},
    }


def _existing(external_ref: str, customer: Customer) -> Purchase | None:
    existing = Purchase.objects.select_related("customer", "product").filter(external_ref=external_ref).first()
    if existing is not None and existing.customer_id != customer.pk:
        raise ValidationError({"external_ref": _("This order reference is already recorded for another customer.")})
    return existing
