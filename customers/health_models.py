"""The health score's rows: the manager's weights and each customer's daily snapshot.

Models of the customers app kept beside ``customers/models.py`` (which imports
them, so Django registers them there); the score itself is computed by
``aftersales/health/services.py``, which reads every domain.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models


class HealthWeights(models.Model):
    """The health-score weights a manager set; one row (pk 1). Keys missing here come from settings.

    A row rather than settings so a manager can tune the score without a
    deploy; ``aftersales.health.services.health_weights`` merges it over
    ``settings.AFTERSALES["HEALTH_WEIGHTS"]``.
    """

    weights = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name_plural = "health weights"

    def __str__(self) -> str:
        return "Health weights"


class HealthSnapshot(models.Model):
    """A customer's score on one day, written by the health recompute: the trend arrow and sparkline."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="health_snapshots")
    score = models.PositiveSmallIntegerField(validators=[MaxValueValidator(100)])
    taken_on = models.DateField()

    class Meta:
        ordering = ["customer", "-taken_on"]
        constraints = [
            # One per customer and day: a second recompute the same day overwrites the score (upsert).
            models.UniqueConstraint(fields=["customer", "taken_on"], name="healthsnapshot_one_per_day"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.taken_on}: {self.score}"
