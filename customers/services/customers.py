"""Writes on customers: creating one (idempotent by external reference) and editing one."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, models, transaction
from django.utils.translation import gettext as _

from aftersales.audit.models import AuditAction
from aftersales.audit.services import audit_changes, audit_record, audit_snapshot
from aftersales.core.roles import Actor, is_manager, is_rep
from customers.models import Customer
from customers.phones import phone_normalise

CUSTOMER_AUDIT = ("name", "company", "email", "phone", "owner_id", "language", "timezone", "external_ref")
# What a rep (or the API) may change on a customer; the owner only by a manager.
EDITABLE = ("name", "company", "email", "phone", "language", "timezone", "owner")
TEXT_FIELDS = ("name", "company", "email")


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
    push "customer, then sale" on every order; a reference of a customer merged into another returns
    that other one. The phone is stored in E.164 (customers/phones.py). Raises ValidationError, one
    message per field, for data the model refuses. Duplicates by e-mail or phone are the caller's
    question (``customers.selectors.customer_duplicates``): the pages and the API ask it first.
    """
    external_ref = (external_ref or "").strip() or None
    if external_ref is not None:
        existing = Customer.objects.select_related("merged_into").filter(external_ref=external_ref).first()
        if existing is not None:
            return existing.merged_into or existing, False
    customer = Customer(
        owner=owner, name=name.strip(), company=company.strip(), email=email.strip(), language=language,
        timezone=timezone, external_ref=external_ref,
    )  # fmt: skip
    errors = {}
    try:
        customer.phone = phone_normalise(phone)
    except ValidationError as exc:
        errors["phone"] = exc.messages
    _full_clean(customer, errors)
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


@transaction.atomic
def customer_update(*, customer: Customer, by: Actor, **changes: Any) -> Customer:
    """Change the customer's ``EDITABLE`` fields; returns the customer as saved.

    A rep edits their own customers, a manager anyone's; only a manager gives a
    customer to another rep (``owner``: the page and the API call
    ``touchpoints.services.customer_edit``, which moves the scheduled check-ups
    along). The row is locked, so two edits at once queue up and each audit
    event says what that edit changed, old → new. A phone typed again is
    checked and stored in E.164; one left as it was is not re-checked (numbers
    from before the check stay until someone edits them). Raises
    PermissionDenied out of scope, ValidationError per field otherwise;
    nothing is written then.
    """
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise TypeError(f"customer_update() cannot change {', '.join(sorted(unknown))}")
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    if not (is_manager(by) or customer.owner_id == getattr(by, "pk", None)):
        raise PermissionDenied(_("A rep edits their own customers only."))
    if customer.merged_into_id is not None:
        raise ValidationError(
            _("This customer was merged into customer #%(pk)s: edit that one."), params={"pk": customer.merged_into_id}
        )
    if customer.erased_at is not None:
        raise ValidationError(_("An erased customer's data cannot be edited."))
    before = audit_snapshot(customer, CUSTOMER_AUDIT)
    errors: dict[str, list[str]] = {}
    owner = changes.pop("owner", None)
    if owner is not None and owner.pk != customer.owner_id:
        if not is_manager(by):
            raise PermissionDenied(_("Only managers give a customer to another rep."))
        if not (owner.is_active and (is_rep(owner) or is_manager(owner))):
            errors["owner"] = [_("Pick an active rep.")]
        customer.owner = owner
    for field, value in changes.items():
        if field in TEXT_FIELDS:
            value = (value or "").strip()
        if field == "phone":
            if (value or "").strip() == customer.phone:
                continue
            try:
                value = phone_normalise(value)
            except ValidationError as exc:
                errors["phone"] = exc.messages
                continue
        setattr(customer, field, value)
    _full_clean(customer, errors, fields=[*changes, "owner"])
    changed = audit_changes(before, audit_snapshot(customer, CUSTOMER_AUDIT))
    if changed:
        customer.save(update_fields=[*changed, "updated_at"])
        audit_record(actor=by, action=AuditAction.CHANGED, obj=customer, changes=changed)
    return customer


def _full_clean(customer: Customer, errors: dict[str, list[str]], *, fields: list[str] | None = None) -> None:
    """The model's own checks (e-mail, language, time zone …) of ``fields`` (all when None), with ``errors``."""
    exclude = None
    if fields is not None:
        exclude = [field.name for field in Customer._meta.fields if field.name not in fields]
    try:
        customer.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            errors.setdefault(field, []).extend(messages)
    if errors:
        raise ValidationError(errors)


def _created(obj: models.Model, fields: tuple[str, ...]) -> dict[str, list[Any]]:
    """The audit ``changes`` of a new row: every audited field from nothing to its value."""
    return audit_changes({}, audit_snapshot(obj, fields))
