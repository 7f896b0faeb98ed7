"""Writes of the at-risk dashboard: hand customers to another rep, snooze a flag, tune the health weights.

Kept beside ``customers/services.py`` (same ``<entity>_<verb>(*, ...)`` rules)
so the two can change independently; views, admin and the API call these.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from aftersales.audit import audit_record, audit_record_many
from aftersales.models import AuditAction
from aftersales.roles import is_manager, is_rep
from touchpoints.models import Status, TouchPoint

from .models import Customer, HealthWeights, RiskFlag

# A snooze longer than this is a resolution in disguise: resolve the flag instead.
SNOOZE_MAX_DAYS = 90
# What a manager may set a weight to (the score is clamped to 0–100 anyway).
WEIGHT_RANGE = (-100, 100)


@transaction.atomic
def customers_reassign(*, customer_ids: Iterable[int], to_rep, by) -> int:
    """Give the customers to ``to_rep``, with their scheduled touch points; return how many changed owner.

    Managers only. The customers are locked in primary-key order first, so two
    reassignments of overlapping selections queue up instead of deadlocking,
    and a touch point scheduled meanwhile by a rep on one of them is either
    moved too or created after the lock with the new owner. Done, missed and
    cancelled touch points keep their assignee: they are history.
    """
    if not is_manager(by):
        raise PermissionDenied("Only managers reassign customers.")
    if not (to_rep.is_active and (is_rep(to_rep) or is_manager(to_rep))):
        raise ValidationError({"to_rep": "Pick an active rep."})
    ids = sorted({int(pk) for pk in customer_ids})
    locked = list(Customer.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk", "owner_id"))
    moving = [pk for pk, owner_id in locked if owner_id != to_rep.pk]
    if not moving:
        return 0
    Customer.objects.filter(pk__in=moving).update(owner=to_rep, updated_at=timezone.now())
    audit_record_many(
        actor=by,
        action=AuditAction.CHANGED,
        object_type="customers.customer",
        rows=[(pk, pk, {"owner_id": [owner_id, to_rep.pk]}) for pk, owner_id in locked if owner_id != to_rep.pk],
    )
    TouchPoint.objects.filter(customer_id__in=moving, status=Status.SCHEDULED).update(assignee=to_rep)
    return len(moving)


@transaction.atomic
def riskflag_snooze(*, flag: RiskFlag, until: dt.datetime, reason: str, by) -> RiskFlag:
    """Hide an open flag from the at-risk lists until ``until``; it comes back by itself after.

    Nothing sweeps it back: ``RiskFlag.objects.visible()`` compares
    ``snoozed_until`` with the clock. The reason and who snoozed are kept in
    ``flag.data["snooze"]`` (the last snooze; earlier ones are in the history
    of the flag's owner notifications, not here).
    """
    reason = (reason or "").strip()
    now = timezone.now()
    if not reason:
        raise ValidationError({"reason": "Say why the flag can wait."})
    if until <= now:
        raise ValidationError({"until": "Pick a date in the future."})
    if until > now + dt.timedelta(days=SNOOZE_MAX_DAYS):
        raise ValidationError({"until": f"At most {SNOOZE_MAX_DAYS} days; resolve the flag if it is over."})
    flag = RiskFlag.objects.select_for_update().get(pk=flag.pk)
    if not Customer.objects.owned_by(by).filter(pk=flag.customer_id).exists():
        raise PermissionDenied("Not your customer.")
    if not flag.is_open:
        raise ValidationError("This flag is already resolved.")
    flag.snoozed_until = until
    flag.data = {
        **(flag.data or {}),
        "snooze": {"reason": reason[:500], "by": by.pk, "at": now.isoformat(), "until": until.isoformat()},
    }
    flag.save(update_fields=["snoozed_until", "data"])
    audit_record(
        actor=by,
        action=AuditAction.SNOOZED,
        obj=flag,
        changes={"snoozed_until": [None, until], "reason": [None, reason]},
    )
    return flag


@transaction.atomic
def healthweights_update(*, weights: dict[str, int], by) -> HealthWeights:
    """Save the manager's weights and make every customer due for a recompute, in one set-based UPDATE.

    The health sweep then rescores the whole book in its batches; until it
    has, the stored scores are those of the old weights.
    """
    if not is_manager(by):
        raise PermissionDenied("Only managers change the health weights.")
    defaults = settings.AFTERSALES["HEALTH_WEIGHTS"]
    unknown = set(weights) - set(defaults)
    if unknown:
        raise ValidationError(f"Unknown weights: {', '.join(sorted(unknown))}.")
    low, high = WEIGHT_RANGE
    if any(not low <= int(value) <= high for value in weights.values()):
        raise ValidationError(f"Every weight is between {low} and {high}.")
    row, _ = HealthWeights.objects.select_for_update().get_or_create(pk=1)
    row.weights = {key: int(value) for key, value in weights.items()}
    row.updated_by = by
    row.save()
    Customer.objects.mark_health_due()
    return row
