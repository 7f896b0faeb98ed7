"""Writes on customers: creating one (idempotent by external reference)."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, models, transaction

from aftersales.audit.models import AuditAction
from aftersales.audit.services import audit_changes, audit_record, audit_snapshot
from aftersales.core.roles import Actor
from customers.models import Customer

CUSTOMER_AUDIT = ("name", "company", "email", "phone", "owner_id", "language", "timezone", "external_ref")


@transaction.atomic
def customer_create(
    *,
    owner: Actor,
    name: str,
    company: str = "",
    email: str = "",
    phone: str = "",
    language: str = "en",
    timezone: str = "UTC",
    external_ref: str | None = None,
    by: Actor | None = None,
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


def _created(obj: models.Model, fields: tuple[str, ...]) -> dict[str, list[Any]]:
    """The audit ``changes`` of a new row: every audited field from nothing to its value."""
    return audit_changes({}, audit_snapshot(obj, fields))
