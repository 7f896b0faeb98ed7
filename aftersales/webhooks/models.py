"""Outbound webhooks: the endpoints managers registered and each delivery to them."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from aftersales.core.leasing import LeasedQuerySet


class WebhookEvent(models.TextChoices):
    CUSTOMER_FLAGGED = "customer.flagged", _("Customer flagged")
    DETRACTOR_ANSWERED = "survey.detractor", _("Detractor answered")
    CHECKUP_MISSED = "checkup.missed", _("Check-up missed")
    PURCHASE_RECORDED = "purchase.recorded", _("Purchase recorded")


def new_webhook_secret() -> str:
    import secrets

    return "whsec_" + secrets.token_urlsafe(32)


class Webhook(models.Model):
    """A URL a manager registered to hear about some events, and the secret its payloads are signed with."""

    url = models.URLField(max_length=500)
    events = models.JSONField(default=list, help_text=_("Event names this endpoint receives."))
    secret = models.CharField(max_length=100, default=new_webhook_secret, editable=False)
    active = models.BooleanField(default=True)
    description = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["url", "pk"]

    def __str__(self) -> str:
        return self.url


class WebhookDeliveryQuerySet(LeasedQuerySet["WebhookDelivery"]):
    done_field = "delivered_at"


class WebhookDelivery(models.Model):
    """One event for one endpoint: written with the change, POSTed afterwards with lease and retry."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=40, choices=WebhookEvent.choices)
    # Stable across retries, sent as Aftersales-Delivery: receivers de-duplicate on it.
    delivery_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    payload = models.JSONField()
    send_after = models.DateTimeField(default=timezone.now)
    leased_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = WebhookDeliveryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = _("webhook deliveries")
        constraints = [
            models.CheckConstraint(
                condition=Q(delivered_at__isnull=True) | Q(failed_at__isnull=True),
                name="webhookdelivery_not_delivered_and_failed",
            ),
        ]
        indexes = [
            # Webhook delivery sweep: pending rows by due time.
            models.Index(
                fields=["send_after"],
                name="webhookdelivery_pending_idx",
                condition=Q(delivered_at__isnull=True, failed_at__isnull=True),
            ),
            # Delivery log: an endpoint's deliveries, newest first.
            models.Index(fields=["webhook", "-created_at"], name="webhookdelivery_log_idx"),
            # Retention prune (aftersales/retention/services.py): delivered or failed rows by when it was done.
            models.Index(
                Coalesce("delivered_at", "failed_at"),
                name="webhookdelivery_done_idx",
                condition=Q(delivered_at__isnull=False) | Q(failed_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.webhook_id}"

    @property
    def status(self) -> str:
        if self.delivered_at:
            return "delivered"
        if self.failed_at:
            return "failed"
        return "pending"
