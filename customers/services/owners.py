"""Writes on who owns a customer."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from aftersales.audit.models import AuditAction
from aftersales.audit.services import audit_record_many
from aftersales.core.roles import Actor, is_manager, is_rep
from customers.models import Customer


@transaction.atomic
def customers_owner_set(*, customer_ids: Iterable[int], to_rep: Actor, by: Actor) -> list[int]:
    """Make ``to_rep`` the owner of the customers; the ids whose owner changed (managers only, audited).

    The customers are locked in primary-key order first, so two reassignments
    of overlapping selections queue up instead of deadlocking. Their check-ups
    follow in ``touchpoints.services.customers_reassign``, which calls this.
    """
    if not is_manager(by):
        raise PermissionDenied("Only managers reassign customers.")
    if not (to_rep.is_active and (is_rep(to_rep) or is_manager(to_rep))):
        raise ValidationError({"to_rep": "Pick an active rep."})
    ids = sorted({int(pk) for pk in customer_ids})
    locked = list(Customer.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk", "owner_id"))
    moving = [(pk, owner_id) for pk, owner_id in locked if owner_id != to_rep.pk]
    if not moving:
        return []
    Customer.objects.filter(pk__in=[pk for pk, _ in moving]).update(owner=to_rep, updated_at=timezone.now())
    audit_record_many(
        actor=by,
        action=AuditAction.CHANGED,
        object_type="customers.customer",
        rows=[(pk, pk, {"owner_id": [owner_id, to_rep.pk]}) for pk, owner_id in moving],
    )
    return [pk for pk, _ in moving]
