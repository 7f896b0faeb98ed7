"""The email outbox, the dev mailbox and the suppression list."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from aftersales.core.leasing import LeasedQuerySet


def new_message_id() -> str:
    return f"<{uuid.uuid4().hex}@{settings.EMAIL_MESSAGE_ID_DOMAIN}>"


class OutboxQuerySet(LeasedQuerySet["OutboxEmail"]):
    done_field = "sent_at"


class OutboxEmail(models.Model):
    """One email to send, written in the same transaction as the change that caused it."""

    class Kind(models.TextChoices):
        CARE_PLAN = "care_plan", _("Care plan")
        SURVEY = "survey", _("Survey invitation")
        SURVEY_REMINDER = "survey_reminder", _("Survey reminder")
        REMINDER = "reminder", _("Check-up reminder")
        DIGEST = "digest", _("Morning digest")
        NOTIFICATION = "notification", _("Notification")
        ACCOUNT = "account", _("Account")

    kind = models.CharField(max_length=32, choices=Kind.choices, default=Kind.NOTIFICATION)
    # Stable across retries: a receiver (or a test sink) can tell a resend from a new mail.
    message_id = models.CharField(max_length=255, unique=True, default=new_message_id, editable=False)
    from_email = models.CharField(max_length=320, blank=True)
    to = models.EmailField(max_length=320)
    reply_to = models.EmailField(max_length=320, blank=True)
    subject = models.CharField(max_length=300)
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    headers = models.JSONField(default=dict, blank=True)
    customer = models.ForeignKey(
        "customers.Customer",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="emails",
        db_index=False,  # outbox_customer_idx below starts with it
    )
    send_after = models.DateTimeField(default=timezone.now)
    leased_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = OutboxQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("outbox email")
        constraints = [
            models.CheckConstraint(
                condition=Q(sent_at__isnull=True) | Q(failed_at__isnull=True), name="outbox_not_sent_and_failed"
            ),
        ]
        indexes = [
            # Outbox delivery sweep: pending rows by due time.
            models.Index(
                fields=["send_after"],
                name="outbox_pending_idx",
                condition=Q(sent_at__isnull=True, failed_at__isnull=True),
            ),
            # Customer timeline: emails sent to a customer.
            models.Index(fields=["customer", "-created_at"], name="outbox_customer_idx"),
            # Retention prune (aftersales/retention/services.py): sent or failed mail by when it was done;
            # pending mail is not in it (OutboxEmail.objects.done_before).
            models.Index(
                Coalesce("sent_at", "failed_at"),
                name="outbox_done_idx",
                condition=Q(sent_at__isnull=False) | Q(failed_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subject} → {self.to}"

    @property
    def status(self) -> str:
        if self.sent_at:
            return "sent"
        if self.failed_at:
            return "failed"
        return "pending"


class MailboxMessage(models.Model):
    """Mail kept by the dev mailbox backend when no SMTP server is configured."""

    message_id = models.CharField(max_length=255, blank=True, db_index=True)
    from_email = models.CharField(max_length=320)
    to = models.TextField()
    subject = models.CharField(max_length=500)
    body_text = models.TextField(blank=True)
    body_html = models.TextField(blank=True)
    headers = models.JSONField(default=dict)
    raw = models.TextField(help_text=_("The message as it would have gone over SMTP."))
    # Indexed for the page's order and the retention prune (aftersales/retention/services.py).
    received_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-received_at", "-pk"]
        verbose_name = _("dev mailbox message")

    def __str__(self) -> str:
        return f"{self.subject} → {self.to}"


class EmailSuppression(models.Model):
    """An address that must never be mailed again, kept only as a hash (the address itself was erased).

    ``email_hash`` is sha256 of the trimmed, lowercased address; the outbox
    and the survey planner hash a recipient the same way and look it up.
    """

    email_hash = models.CharField(max_length=64, unique=True)
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.email_hash[:12]}… ({self.reason})"
