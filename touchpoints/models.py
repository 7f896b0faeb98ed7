"""Check-up plans and the touch points they schedule after every sale."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Self

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from aftersales.core.roles import Actor, Visitor


class Channel(models.TextChoices):
    CALL = "call", _("Call")
    EMAIL = "email", _("Email")
    MEETING = "meeting", _("Meeting")
    VISIT = "visit", _("Visit")


class CheckupPlan(models.Model):
    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    skip_weekends = models.BooleanField(
        default=True, help_text=_("Move check-ups that fall on a Saturday or Sunday to the next Monday.")
    )
    renewal_offsets_days = models.JSONField(
        default=list,
        blank=True,
        help_text=_("Days before a renewal date to schedule a renewal check-up, e.g. [60, 14]."),
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PlanStep(models.Model):
    plan = models.ForeignKey(CheckupPlan, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    offset_days = models.PositiveSmallIntegerField(
        validators=[MaxValueValidator(3650)], help_text=_("Days after delivery (or the order date).")
    )
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.CALL)
    objective = models.TextField(help_text=_("What this check-up is for, in words the customer will read."))
    survey_follows = models.BooleanField(default=False)

    class Meta:
        ordering = ["plan", "position"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "position"], name="planstep_unique_position"),
            models.CheckConstraint(condition=Q(offset_days__lte=3650), name="planstep_offset_within_10_years"),
        ]

    def __str__(self) -> str:
        return f"{self.plan}: day {self.offset_days} ({self.get_channel_display()})"


class Status(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    DONE = "done", _("Done")
    MISSED = "missed", _("Missed")
    CANCELLED = "cancelled", _("Cancelled")


class Kind(models.TextChoices):
    PLANNED = "planned", _("Planned check-up")
    RENEWAL = "renewal", _("Renewal check-up")
    FOLLOW_UP = "follow_up", _("Follow-up")
    CLOSE_LOOP = "close_loop", _("Close the loop")
    AD_HOC = "ad_hoc", _("Ad hoc")


class Outcome(models.TextChoices):
    REACHED = "reached", _("Reached")
    NO_ANSWER = "no_answer", _("No answer")
    LEFT_MESSAGE = "left_message", _("Left a message")
    INBOUND = "inbound", _("Customer got in touch")


# Outcomes that count as two-way contact (they move last_contact_at and quiet_after).
TWO_WAY_OUTCOMES = frozenset({Outcome.REACHED, Outcome.INBOUND})


def overdue_q(at: dt.datetime) -> Q:
    """*Overdue*, defined once: scheduled and past its due time (My day, the dashboard, the scorecard, the API)."""
    return Q(status=Status.SCHEDULED, due_at__lt=at)


def completion_window_q(since: dt.datetime, until: dt.datetime) -> Q:
    """The check-ups a completion rate is out of: fell due in [since, until), cancelled ones left out."""
    return Q(due_at__gte=since, due_at__lt=until) & ~Q(status=Status.CANCELLED)


class TouchPointQuerySet(models.QuerySet["TouchPoint"]):
    def scheduled(self) -> Self:
        return self.filter(status=Status.SCHEDULED)

    def due_by(self, moment: dt.datetime) -> Self:
        return self.scheduled().filter(due_at__lte=moment)

    def overdue(self, at: dt.datetime | None = None) -> Self:
        return self.filter(overdue_q(at or timezone.now()))

    def due_later_today(self, at: dt.datetime, day_end: dt.datetime) -> Self:
        """*Due today*: scheduled, not overdue yet, and due before the end of the rep's day."""
        return self.scheduled().filter(due_at__gte=at, due_at__lt=day_end)

    def assigned_to(self, user: Actor) -> Self:
        return self.filter(assignee=user)

    def owned_by(self, user: Visitor) -> Self:
        """Row scoping like Customer.objects.owned_by: managers all, reps their customers' and their own."""
        from aftersales.core.roles import is_manager

        if is_manager(user):
            return self
        return self.filter(Q(customer__owner=user) | Q(assignee=user))

    def survey_unchecked(self) -> Self:
        """Logged check-ups whose plan step asks for a survey, not yet looked at by the survey planner."""
        return self.filter(status=Status.DONE, survey_follows=True, survey_checked_at__isnull=True)


class TouchPoint(models.Model):
    customer = models.ForeignKey(
        "customers.Customer",
        on_delete=models.CASCADE,
        related_name="touchpoints",
        db_index=False,  # touchpoint_timeline_idx below starts with it
    )
    purchase = models.ForeignKey(
        "customers.Purchase", on_delete=models.CASCADE, null=True, blank=True, related_name="touchpoints"
    )
    # History survives plan edits: the objective is copied onto the touch point.
    plan_step = models.ForeignKey(PlanStep, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="touchpoints",
        db_index=False,  # touchpoint_myday_idx below starts with it
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.PLANNED)
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.CALL)
    objective = models.TextField(blank=True)
    survey_follows = models.BooleanField(default=False)
    due_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SCHEDULED)
    completed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, blank=True)
    temperature = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    notes = models.TextField(blank=True)
    next_step = models.CharField(max_length=500, blank=True)
    problem_reported = models.BooleanField(default=False)
    cancel_reason = models.CharField(max_length=500, blank=True)
    reminder_sent_at = models.DateTimeField(null=True, blank=True)
    # When feedback's survey planner looked at this logged check-up (feedback/services/planning.py):
    # it plans the survey the plan step asks for, or decides none is due, once.
    survey_checked_at = models.DateTimeField(null=True, blank=True)
    follows = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="followed_by")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TouchPointQuerySet.as_manager()

    # Not a column: the overdue badge's day count, set by touchpoints.selectors.with_days_overdue.
    days_overdue: int

    class Meta:
        ordering = ["due_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(temperature__isnull=True) | Q(temperature__gte=1, temperature__lte=5),
                name="touchpoint_temperature_1_5",
            ),
            models.CheckConstraint(
                condition=~Q(status=Status.DONE) | Q(completed_at__isnull=False),
                name="touchpoint_done_has_completed_at",
            ),
            # Scheduling the same plan step twice for one purchase is a bug, not data.
            models.UniqueConstraint(
                fields=["purchase", "plan_step"],
                condition=Q(purchase__isnull=False, plan_step__isnull=False),
                name="touchpoint_one_per_purchase_step",
            ),
        ]
        indexes = [
            # Reminder and overdue/missed sweeps: scheduled touch points by due time.
            models.Index(fields=["due_at"], name="touchpoint_due_sweep_idx", condition=Q(status="scheduled")),
            # My day: a rep's scheduled touch points by due time.
            models.Index(fields=["assignee", "status", "due_at"], name="touchpoint_myday_idx"),
            # Customer timeline, newest first.
            models.Index(fields=["customer", "-due_at"], name="touchpoint_timeline_idx"),
            # Dashboard: completion rates per rep over time.
            models.Index(fields=["assignee", "completed_at"], name="touchpoint_completed_idx"),
            # The after-check-up survey planner (feedback/services/planning.py): logged check-ups it has not looked at.
            models.Index(
                fields=["completed_at"],
                name="touchpoint_survey_due_idx",
                condition=Q(status="done", survey_follows=True, survey_checked_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} with {self.customer_id} due {self.due_at:%Y-%m-%d}"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("customers:detail", args=[self.customer_id]) + f"#touchpoint-{self.pk}"

    @property
    def is_two_way(self) -> bool:
        return self.outcome in TWO_WAY_OUTCOMES
