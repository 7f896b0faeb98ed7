"""Writes on the health score's settings: the manager's weights."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from aftersales.core.roles import Actor, is_manager
from customers.models import Customer, HealthWeights

# What a manager may set a weight to (the score is clamped to 0–100 anyway).
WEIGHT_RANGE = (-100, 100)


@transaction.atomic
def healthweights_update(*, weights: dict[str, int], by: Actor) -> HealthWeights:
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
