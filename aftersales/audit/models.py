"""The audit trail: who changed what, when, old and new values."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AuditAction(models.TextChoices):
    CREATED = "created", _("Created")
    CHANGED = "changed", _("Changed")
    COMPLETED = "completed", _("Completed")
    LOGGED = "logged", _("Logged")
    RESCHEDULED = "rescheduled", _("Rescheduled")
    CANCELLED = "cancelled", _("Cancelled")
    RAISED = "raised", _("Raised")
    RESOLVED = "resolved", _("Resolved")
    SNOOZED = "snoozed", _("Snoozed")
    UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")
    RESUBSCRIBED = "resubscribed", _("Resubscribed")
    EXPORTED = "exported", _("Exported")
    ERASED = "erased", _("Erased")
    MERGED = "merged", _("Merged")
    IMPORTED = "imported", _("Imported")
    INVITED = "invited", _("Invited")
    DEACTIVATED = "deactivated", _("Deactivated")
    REACTIVATED = "reactivated", _("Reactivated")


class AuditEvent(models.Model):
    """One change made by someone (or by the system, ``actor`` empty): who, what, when, and the old/new values.

    An event table rather than a history table per model: the customer page
    shows one stream for everything about a customer, and erasure can scrub
    personal values out of it in one UPDATE. ``object_type``/``object_id`` are
    plain columns, not a generic FK, so an event outlives the row it describes.
    """

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    action = models.CharField(max_length=16, choices=AuditAction.choices)
    object_type = models.CharField(max_length=64, help_text=_("app_label.model of the changed row."))
    object_id = models.PositiveBigIntegerField(null=True, blank=True)
    customer = models.ForeignKey(
        "customers.Customer",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="audit_events",
        db_index=False,  # audit_customer_idx below starts with it
    )
    # {field: [old, new]}; JSON-safe values only (see aftersales.audit).
    changes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            # Customer page (manager's Audit section): a customer's events, newest first.
            models.Index(fields=["customer", "-created_at"], name="audit_customer_idx"),
            # Admin and erasure look-ups of one object's history.
            models.Index(fields=["object_type", "object_id"], name="audit_object_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.object_type} #{self.object_id} {self.action}"
