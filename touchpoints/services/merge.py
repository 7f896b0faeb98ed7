"""Merging two customers, the check-ups' part (the merge: aftersales/customer_pages/merge.py)."""

from __future__ import annotations

from customers.models import Customer
from touchpoints.models import Status, TouchPoint


def touchpoints_move_customer(*, from_customer: Customer, to_customer: Customer) -> int:
    """Every check-up moves; the scheduled ones that were the duplicate's rep's go to the survivor's rep.

    Done, missed and cancelled ones keep their assignee (history), as when a
    customer is reassigned; one assigned to someone else stays theirs.
    """
    TouchPoint.objects.filter(
        customer=from_customer, status=Status.SCHEDULED, assignee_id=from_customer.owner_id
    ).update(assignee_id=to_customer.owner_id)
    return TouchPoint.objects.filter(customer=from_customer).update(customer=to_customer)
