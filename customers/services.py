"""Writes on customers and what they bought."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from aftersales.audit import audit_changes, audit_record, audit_snapshot
from aftersales.core import inputs
from aftersales.models import AuditAction, WebhookEvent
from aftersales.webhooks import webhook_emit
from touchpoints.careplan import careplan_send
from touchpoints.planning import touchpoints_schedule

from .models import Customer, Product, Purchase

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
CUSTOMER_AUDIT = ("name", "company", "email", "phone", "owner_id", "language", "timezone", "external_ref")


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

    touchpoints_schedule(purchase=purchase, created_by=recorded_by)
    audit_record(
        actor=recorded_by, action=AuditAction.CREATED, obj=purchase, changes=_created(purchase, PURCHASE_AUDIT)
    )
    # The contact clock starts with the first sale (a customer never reached must still go quiet), and
    # the new check-ups and renewal date are signals of the health score (customers/health.py).
    Customer.objects.filter(pk=customer.pk, quiet_after__isnull=True).update(
        quiet_after=customer.quiet_after_from(timezone.now())
    )
    Customer.objects.filter(pk=customer.pk).mark_health_due()
    careplan_send(customer=customer, purchase=purchase)
    webhook_emit(event=WebhookEvent.PURCHASE_RECORDED, payload=purchase_event_payload(purchase))
    return purchase, True


def _check_inputs(*, ordered_at, delivered_at, renewal_date, amount, currency: str) -> str:
    """Raise one ValidationError naming every field outside the input rules; return the currency code."""
    errors: dict[str, list[str]] = {}
    checks = [
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


def purchase_event_payload(purchase: Purchase) -> dict:
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


@transaction.atomic
def customer_create(
    *,
    owner,
    name: str,
    company: str = "",
    email: str = "",
    phone: str = "",
    language: str = "en",
    timezone: str = "UTC",
    external_ref: str | None = None,
    by=None,
) -> tuple[Customer, bool]:
    """Create a customer owned by ``owner``; idempotent by ``external_ref`` like ``purchase_record``.

    The same reference again returns the customer already on file (``created=False``), so a shop can
    push "customer, then sale" on every order. Raises ValidationError for data the model refuses.
    """
    external_ref = (external_ref or "").strip() or None
    if external_ref is not None:
        existing = Customer.objects.filter(external_ref=external_ref).first()
        if existing is not None:
            return existing, False
    customer = Customer(
        owner=owner, name=name, company=company, email=email, phone=phone, language=language,
        timezone=timezone, external_ref=external_ref,
    )  # fmt: skip
    customer.full_clean(validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            customer.save()
    except IntegrityError:
        existing = Customer.objects.filter(external_ref=external_ref).first() if external_ref else None
        if existing is None:
            raise
        return existing, False
    audit_record(actor=by, action=AuditAction.CREATED, obj=customer, changes=_created(customer, CUSTOMER_AUDIT))
    return customer, True


def _created(obj, fields: tuple[str, ...]) -> dict[str, list]:
    """The audit ``changes`` of a new row: every audited field from nothing to its value."""
    return audit_changes({}, audit_snapshot(obj, fields))
