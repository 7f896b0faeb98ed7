"""Handing customers to another rep, with their scheduled check-ups."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction

from aftersales.core.roles import Actor
from customers.models import Customer
from customers.services import customer_update, customers_owner_set
from touchpoints.models import Status, TouchPoint


@transaction.atomic
def customers_reassign(*, customer_ids: Iterable[int], to_rep: Actor, by: Actor) -> int:
    """Give the customers to ``to_rep``, with their scheduled touch points; return how many changed owner.

    Managers only. The customers are locked first (``customers_owner_set``), so a
    touch point scheduled meanwhile by a rep on one of them is either moved too
    or created after the lock with the new owner. Done, missed and cancelled
    touch points keep their assignee: they are history.
    """
    moving = customers_owner_set(customer_ids=customer_ids, to_rep=to_rep, by=by)
    if moving:
        TouchPoint.objects.filter(customer_id__in=moving, status=Status.SCHEDULED).update(assignee=to_rep)
    return len(moving)


@transaction.atomic
def customer_edit(*, customer: Customer, by: Actor, **changes: Any) -> Customer:
    """``customer_update`` for the pages and the API: when a manager gives the customer to another rep,
    their scheduled check-ups follow, as with ``customers_reassign``; returns the customer as saved."""
    old_owner_id = customer.owner_id
    customer = customer_update(customer=customer, by=by, **changes)
    if customer.owner_id != old_owner_id:
        TouchPoint.objects.filter(customer=customer, status=Status.SCHEDULED).update(assignee_id=customer.owner_id)
    return customer
