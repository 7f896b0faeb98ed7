"""Erasure (GDPR), the customers' part: the profile anonymised, flags closed and emptied."""

from __future__ import annotations

import datetime as dt

from aftersales.core.roles import Actor
from customers.models import Customer, RiskFlag


def customer_anonymise(*, customer: Customer, by: Actor | None, name: str, now: dt.datetime) -> None:
    """Call inside ``customer_erase``'s transaction, the customer row locked: the row stays, the person goes."""
    RiskFlag.objects.filter(customer=customer, resolved_at__isnull=True).update(
        resolved_at=now, resolved_by=by, resolution="Customer erased."
    )
    RiskFlag.objects.filter(customer=customer).update(detail="", data={})
    # Duplicates merged into them kept nothing personal but a shop reference the customer could not take.
    Customer.objects.filter(merged_into=customer).update(external_ref=None, updated_at=now)
    Customer.objects.filter(pk=customer.pk).update(
        name=name, company="", email="", phone="", notes="", external_ref=None,
        email_opt_out=True, email_opt_out_at=customer.email_opt_out_at or now, health_explanation=[],
        erased_at=now, updated_at=now,
    )  # fmt: skip
