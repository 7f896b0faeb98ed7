"""Shared pieces: the email outbox, the dev mailbox and the staff profile."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def new_message_id() -> str:
    return f"<{uuid.uuid4().hex}@{settings.EMAIL_MESSAGE_ID_DOMAIN}>"


class LeasedQuerySet(models.QuerySet):
    """Rows delivered with lease and retry (outbox emails, webhook deliveries): which ones a worker may claim."""

    # The column set once the row is delivered; ``failed_at`` marks giving up.
    done_field = "sent_at"

    def pending(self) -> LeasedQuerySet:
        return self.filter(**{f"{self.done_field}__isnull": True, "failed_at__isnull": True})

    def deliverable(self, at=None) -> LeasedQuerySet:
        """Pending, due, and not leased by a live worker."""
        moment = at or timezone.now()
        return (
            self.pending()
            .filter(send_after__lte=moment)
            .filter(Q(leased_until__isnull=True) | Q(leased_until__lt=moment))
        )

    def claim(self, pk: int, *, lease_until, at) -> bool:
        """Lease one deliverable row for this worker: True when this call got it.

        A single conditional UPDATE: two workers racing on the same row both
        run it; the database serialises them and the second one's WHERE no
        longer matches (the lease is live), so it updates 0 rows.
        """
        return self.deliverable(at=at).filter(pk=pk).update(leased_until=lease_until, attempts=F("attempts") + 1) == 1


class OutboxQuerySet(LeasedQuerySet):
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
    received_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-received_at", "-pk"]
        verbose_name = _("dev mailbox message")

    def __str__(self) -> str:
        return f"{self.subject} → {self.to}"


class UserProfile(models.Model):
    """What the app needs to know about a rep or manager beyond auth.User."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    timezone = models.CharField(max_length=64, default="UTC")
    phone = models.CharField(max_length=40, blank=True)
    workday_start = models.TimeField(default="09:00")
    workday_end = models.TimeField(default="18:00")
    wants_weekly_summary = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(workday_end__gt=models.F("workday_start")), name="profile_workday_order"
            ),
        ]

    def __str__(self) -> str:
        return f"Profile of {self.user}"


# --- Outbound webhooks (aftersales/webhooks.py) and API idempotency -------------------------


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


class WebhookDeliveryQuerySet(LeasedQuerySet):
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

    def __str__(self) -> str:
        return f"{self.key} ({self.user_id})"


class ImportJob(models.Model):
    """One uploaded spreadsheet on its way in: mapping, preview errors, then a commit with progress.

    The file itself stays under VAR_DIR/imports/ (``path``) so the commit,
    which runs in a worker, reads exactly what the manager previewed.
    """

    class Status(models.TextChoices):
        UPLOADED = "uploaded", _("Uploaded")
        INVALID = "invalid", _("Has errors")
        READY = "ready", _("Ready to import")
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Importing")
        DONE = "done", _("Imported")
        FAILED = "failed", _("Failed")

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    filename = models.CharField(max_length=255)
    path = models.CharField(max_length=500)
    mapping = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.UPLOADED)
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    summary = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.filename} ({self.status})"

    @property
    def percent(self) -> int:
        return int(100 * self.processed_rows / self.total_rows) if self.total_rows else 0


# --- Audit trail and suppression (aftersales/audit.py, customers/gdpr.py) ---------------------


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
