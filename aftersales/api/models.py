"""API idempotency: the response given to a write with an Idempotency-Key."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class IdempotentRequest(models.Model):
    """The response given to an API write with an ``Idempotency-Key``, replayed when the key comes again."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    # The request the key was first used for: the same key on another request is a client bug (422).
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    body = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotentrequest_user_key")]
        indexes = [
            # Retention prune (aftersales/retention/services.py): keys older than IDEMPOTENCY_KEEP_HOURS.
            models.Index(fields=["created_at"], name="idempotentrequest_prune_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.user_id})"
