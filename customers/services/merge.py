"""Merging two customers, the customers' part: purchases, flags and health history move; the duplicate is retired.

The merge itself (aftersales/customer_pages/merge.py) locks both customers and
calls each app's ``<rows>_move_customer`` in one transaction; these are the
ones for the rows this app owns, then ``customer_mark_merged`` last.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Exists, OuterRef

from aftersales.audit.services import audit_changes, audit_snapshot
from customers.models import Customer, HealthSnapshot, Purchase, RiskFlag
from customers.services.flags import FLAG_DETAIL_MAX_LENGTH

# What the survivor takes from the duplicate when it has none of its own.
FILLED_FIELDS = ("company", "email", "phone", "external_ref")
# What the duplicate keeps of the person: nothing (its history moved; erasing the survivor must reach all of it).
CLEARED_FIELDS = ("company", "email", "phone", "notes")
MERGED_AUDIT = ("name", "company", "email", "phone", "external_ref", "merged_into_id")
SURVIVOR_AUDIT = ("company", "email", "phone", "external_ref", "email_opt_out")


def merged_name(survivor: Customer) -> str:
    return f"Merged into customer #{survivor.pk}"


def purchases_move_customer(*, from_customer: Customer, to_customer: Customer) -> int:
    return Purchase.objects.filter(customer=from_customer).update(customer=to_customer)


def riskflags_move_customer(*, from_customer: Customer, to_customer: Customer, now: dt.datetime) -> int:
    """Move every flag; where both have an open flag for a reason, the survivor's stays open with both details.

    At most one open flag per customer and reason (riskflag_one_open_per_reason):
    the duplicate's is resolved as merged, then moves with the rest as history.
    """
    survivors_open = {flag.reason: flag for flag in RiskFlag.objects.open().filter(customer=to_customer)}
    for flag in RiskFlag.objects.open().filter(customer=from_customer, reason__in=survivors_open).order_by("pk"):
        kept = survivors_open[flag.reason]
        if flag.detail and flag.detail not in kept.detail:
            kept.detail = " · ".join(part for part in (kept.detail, flag.detail) if part)[:FLAG_DETAIL_MAX_LENGTH]
            RiskFlag.objects.filter(pk=kept.pk).update(detail=kept.detail)
        RiskFlag.objects.filter(pk=flag.pk).update(
            resolved_at=max(now, flag.raised_at),
            resolution=f"Merged into flag #{kept.pk} (customer #{to_customer.pk}).",
        )
    return RiskFlag.objects.filter(customer=from_customer).update(customer=to_customer)


def healthsnapshots_move_customer(*, from_customer: Customer, to_customer: Customer) -> int:
    """The duplicate's daily scores join the survivor's trend; on a day both have one, the survivor's is kept."""
    same_day = HealthSnapshot.objects.filter(customer=to_customer, taken_on=OuterRef("taken_on"))
    HealthSnapshot.objects.filter(customer=from_customer).filter(Exists(same_day)).delete()
    return HealthSnapshot.objects.filter(customer=from_customer).update(customer=to_customer)


def customer_mark_merged(
    *, merged: Customer, survivor: Customer, now: dt.datetime
) -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
    """Retire ``merged`` into ``survivor``; call last, both rows locked. Returns the audit changes of each.

    The survivor keeps its own values and takes the duplicate's company, e-mail,
    phone and external reference where it has none; notes are appended; an
    opt-out on either side holds for the survivor (nobody is mailed who asked
    not to be); the contact clock takes the later contact. The duplicate keeps
    its id, owner and a pointer (``merged_into``), nothing personal; a
    reference the survivor could not take stays on it, so a shop pushing it
    again reaches the survivor (``customer_create``). Customers merged into the
    duplicate before now point at the survivor: chains stay one step long.
    """
    survivor_before = audit_snapshot(survivor, SURVIVOR_AUDIT)
    merged_before = audit_snapshot(merged, MERGED_AUDIT)
    moving_ref = survivor.external_ref is None and merged.external_ref is not None
    for field in FILLED_FIELDS:
        if not getattr(survivor, field) and getattr(merged, field):
            setattr(survivor, field, getattr(merged, field))
    if merged.notes:
        survivor.notes = "\n\n".join(part for part in (survivor.notes, merged.notes) if part)
    if merged.email_opt_out and not survivor.email_opt_out:
        survivor.email_opt_out, survivor.email_opt_out_at = True, merged.email_opt_out_at or now
    contacts = [at for at in (survivor.last_contact_at, merged.last_contact_at) if at is not None]
    quiet = [at for at in (survivor.quiet_after, merged.quiet_after) if at is not None]
    if contacts:
        survivor.last_contact_at = max(contacts)
        survivor.quiet_after = survivor.quiet_after_from(survivor.last_contact_at)  # with the moved purchases
    elif quiet:
        survivor.quiet_after = min(quiet)

    Customer.objects.filter(merged_into=merged).update(merged_into=survivor)
    merged.name, merged.merged_into, merged.merged_at = merged_name(survivor), survivor, now
    for field in CLEARED_FIELDS:
        setattr(merged, field, "")
    if moving_ref:
        merged.external_ref = None
    merged.quiet_after = merged.health_due_at = merged.health_score = None
    merged.health_explanation = []
    # The duplicate first: its external reference must be free before the survivor takes it.
    merged.save(
        update_fields=[
            *CLEARED_FIELDS, "name", "merged_into", "merged_at", "external_ref", "quiet_after", "health_due_at",
            "health_score", "health_explanation", "updated_at",
        ]
    )  # fmt: skip
    survivor.save(
        update_fields=[
            *FILLED_FIELDS,
            "notes",
            "email_opt_out",
            "email_opt_out_at",
            "last_contact_at",
            "quiet_after",
            "updated_at",
        ]
    )
    return (
        audit_changes(survivor_before, audit_snapshot(survivor, SURVIVOR_AUDIT)),
        audit_changes(merged_before, audit_snapshot(merged, MERGED_AUDIT)),
    )
