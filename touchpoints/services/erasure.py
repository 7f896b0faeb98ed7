"""Erasure (GDPR), the check-ups' part: what the rep wrote goes, the dates stay."""

from __future__ import annotations

import datetime as dt

from customers.models import Customer
from touchpoints.models import Status, TouchPoint


def touchpoints_erase_customer(*, customer: Customer, now: dt.datetime) -> None:
    """Call inside ``customer_erase``'s transaction: scheduled check-ups are cancelled, free text removed."""
    TouchPoint.objects.filter(customer=customer, status=Status.SCHEDULED).update(
        status=Status.CANCELLED, cancel_reason="", updated_at=now
    )
    TouchPoint.objects.filter(customer=customer).update(notes="", next_step="", cancel_reason="", updated_at=now)
    TouchPoint.objects.filter(customer=customer, plan_step__isnull=True).update(objective="")
