"""Satisfaction surveys: what we ask, who was invited, what they answered."""

from __future__ import annotations

import hashlib
import secrets
from typing import Self

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from feedback.scores import DETRACTORS, PROMOTERS, is_detractor


class Trigger(models.TextChoices):
    AFTER_CHECKUP = "after_checkup", _("After a check-up whose step asks for it")
    AFTER_DELIVERY = "after_delivery", _("Days after delivery")
    RELATIONSHIP = "relationship", _("Relationship survey (periodic)")


class Survey(models.Model):
    name = models.CharField(max_length=200)
    trigger = models.CharField(max_length=32, choices=Trigger.choices, default=Trigger.AFTER_CHECKUP)
    product = models.ForeignKey(
        "customers.Product",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="surveys",
        help_text=_("Empty: applies to every product without its own survey."),
    )
    # Empty: the global default of settings.AFTERSALES (SURVEY_DELAY_HOURS after a
    # check-up, SURVEY_AFTER_DELIVERY_DAYS, SURVEY_RELATIONSHIP_DAYS); feedback/rules.py.
    delay_days = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text=_(
            "Days after the trigger before sending (for a relationship survey: days between two). "
            "Empty: the global default."
        ),
    )
    asks_nps = models.BooleanField(default=True)
    asks_csat = models.BooleanField(default=True)
    asks_buy_again = models.BooleanField(default=True)
    asks_comment = models.BooleanField(default=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


def hash_token(token: str) -> str:
    """Only this hash is stored: a leaked database does not leak answerable links."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(24)  # 192 random bits


class SurveyInvitationQuerySet(models.QuerySet["SurveyInvitation"]):
    def for_token(self, token: str) -> Self:
        return self.filter(token_hash=hash_token(token))

    def pending(self) -> Self:
        return self.filter(responded_at__isnull=True, expires_at__gt=timezone.now())


class SurveyInvitation(models.Model):
    survey = models.ForeignKey(Survey, on_delete=models.PROTECT, related_name="invitations")
    customer = models.ForeignKey(
        "customers.Customer",
        on_delete=models.CASCADE,
        related_name="survey_invitations",
        db_index=False,  # invitation_customer_idx below starts with it
    )
    touchpoint = models.ForeignKey(
        "touchpoints.TouchPoint", on_delete=models.SET_NULL, null=True, blank=True, related_name="survey_invitations"
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    language = models.CharField(max_length=8, default="en")
    send_at = models.DateTimeField(help_text=_("When the invitation is due to go out."))
    sent_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()
    opened_at = models.DateTimeField(null=True, blank=True)
    responded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = SurveyInvitationQuerySet.as_manager()

    # Not a column: how far it got, set by feedback.selectors.customer_surveys for the customer page.
    state: str

    class Meta:
        ordering = ["-send_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("send_at")), name="invitation_expires_after_send"
            ),
        ]
        indexes = [
            # Invitation sweep: due and not sent yet.
            models.Index(fields=["send_at"], name="invitation_send_sweep_idx", condition=Q(sent_at__isnull=True)),
            # Reminder/expiry sweep: sent, unanswered.
            models.Index(
                fields=["sent_at"],
                name="invitation_remind_sweep_idx",
                condition=Q(sent_at__isnull=False, responded_at__isnull=True, reminded_at__isnull=True),
            ),
            # Throttle check and customer page: a customer's invitations, newest first.
            models.Index(fields=["customer", "-send_at"], name="invitation_customer_idx"),
            # Response-rate charts by month.
            models.Index(fields=["sent_at", "responded_at"], name="invitation_rate_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.survey} to {self.customer_id}"

    def set_token(self) -> str:
        """Give the invitation a fresh token; returns the clear token (never stored)."""
        token = new_token()
        self.token_hash = hash_token(token)
        return token

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()


class BuyAgain(models.TextChoices):
    YES = "yes", _("Yes")
    NO = "no", _("No")
    UNSURE = "unsure", _("Not sure")


class SurveyResponseQuerySet(models.QuerySet["SurveyResponse"]):
    def detractors(self) -> Self:
        return self.filter(DETRACTORS)

    def promoters(self) -> Self:
        return self.filter(PROMOTERS)


class SurveyResponse(models.Model):
    # One answer per invitation: amending updates this row, never adds one.
    invitation = models.OneToOneField(SurveyInvitation, on_delete=models.CASCADE, related_name="response")
    # Denormalised from the invitation for the dashboard and timeline queries.
    customer = models.ForeignKey(
        "customers.Customer",
        on_delete=models.CASCADE,
        related_name="survey_responses",
        db_index=False,  # response_customer_idx below starts with it
    )
    nps = models.PositiveSmallIntegerField(null=True, blank=True)
    csat = models.PositiveSmallIntegerField(null=True, blank=True)
    would_buy_again = models.CharField(max_length=8, choices=BuyAgain.choices, blank=True)
    comment = models.TextField(blank=True, max_length=5000)
    problem_reported = models.BooleanField(default=False)
    submitted_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    # Closing the loop (feedback/services/answers.py): the "close the loop" touch point
    # opened for a low answer, when it was opened, and when the rep completed it
    # (set by the loop job, feedback/services/loops.py, once the call is logged). closed − opened is the
    # dashboard's call-back time.
    followup = models.ForeignKey(
        "touchpoints.TouchPoint", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    loop_opened_at = models.DateTimeField(null=True, blank=True)
    loop_closed_at = models.DateTimeField(null=True, blank=True)
    # A low answer leaves the loop pending (feedback/services/loops.py): the reasons still to act
    # on ("detractor,low_csat"), and since when. The worker opens it within seconds,
    # in batches, and clears both; loop_opened_at is then the answer's time.
    loop_pending = models.CharField(max_length=100, blank=True, default="", db_default="")
    loop_pending_at = models.DateTimeField(null=True, blank=True)

    objects = SurveyResponseQuerySet.as_manager()

    class Meta:
        ordering = ["-submitted_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(nps__isnull=True) | Q(nps__gte=0, nps__lte=10), name="response_nps_0_10"
            ),
            models.CheckConstraint(
                condition=Q(csat__isnull=True) | Q(csat__gte=1, csat__lte=5), name="response_csat_1_5"
            ),
        ]
        indexes = [
            # NPS / CSAT trends by month.
            models.Index(fields=["submitted_at"], name="response_submitted_idx"),
            # Customer timeline and health: a customer's answers, newest first.
            models.Index(fields=["customer", "-submitted_at"], name="response_customer_idx"),
            # The loop job (feedback/services/loops.py): answers whose call-back is open, to see whether it was logged.
            models.Index(
                fields=["followup"],
                name="response_loop_open_idx",
                condition=Q(followup__isnull=False, loop_closed_at__isnull=True),
            ),
            # The loop-opening job (feedback/services/loops.py): answers whose loop is pending, oldest first.
            models.Index(
                fields=["loop_pending_at"], name="response_loop_pending_idx", condition=Q(loop_pending_at__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        return f"Answer from {self.customer_id} (NPS {self.nps})"

    @property
    def is_detractor(self) -> bool:
        return is_detractor(self.nps)


class ConsentAction(models.TextChoices):
    OPTED_OUT = "opted_out", _("Unsubscribed")
    RESUBSCRIBED = "resubscribed", _("Resubscribed")


class EmailConsentEvent(models.Model):
    """Every change of a customer's email opt-out, with who made it and why: the audit trail of consent.

    The customer unsubscribes themselves (``by`` empty); only staff can undo it,
    and must say why (the customer asked on a call, in writing …).
    """

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="consent_events")
    action = models.CharField(max_length=16, choices=ConsentAction.choices)
    at = models.DateTimeField(default=timezone.now)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [
            # Customer page: a customer's consent history, newest first.
            models.Index(fields=["customer", "-at"], name="consent_customer_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()}: {self.customer_id}"
