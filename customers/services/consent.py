"""Writes on a customer's e-mail consent flag (the consent history is feedback's: EmailConsentEvent)."""

from __future__ import annotations

import datetime as dt

from customers.models import Customer


def customer_email_opt_out_set(*, customer: Customer, opted_out: bool, at: dt.datetime) -> bool:
    """Set the opt-out with one conditional UPDATE; True when this call changed it (a second click changes nothing)."""
    changed = Customer.objects.filter(pk=customer.pk, email_opt_out=not opted_out).update(
        email_opt_out=opted_out, email_opt_out_at=at if opted_out else None, updated_at=at
    )
    if changed:
        customer.email_opt_out, customer.email_opt_out_at = opted_out, at if opted_out else None
    return bool(changed)
