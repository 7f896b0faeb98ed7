"""The staff profile: what the app needs to know about a rep or manager beyond auth.User."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

# ISO weekdays (Monday 1 … Sunday 7) a profile works unless it says otherwise.
DEFAULT_WORKDAYS = (1, 2, 3, 4, 5)


def default_workdays() -> list[int]:
    return list(DEFAULT_WORKDAYS)


class UserProfile(models.Model):
    """What the app needs to know about a rep or manager beyond auth.User."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    timezone = models.CharField(max_length=64, default="UTC")
    phone = models.CharField(max_length=40, blank=True)
    workday_start = models.TimeField(default="09:00")
    workday_end = models.TimeField(default="18:00")
    # ISO weekdays worked (1 = Monday … 7 = Sunday): reminders, slots for new times and SLA clocks skip the rest.
    workdays = models.JSONField(default=default_workdays)
    # The language of the staff pages and of the mail sent to this user (one of settings.LANGUAGES).
    language = models.CharField(max_length=8, default="en")
    # What the user is sent: a reminder when a check-up falls due, the morning digest, the weekly summary.
    wants_reminders = models.BooleanField(default=True)
    wants_digest = models.BooleanField(default=True)
    wants_weekly_summary = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(workday_end__gt=models.F("workday_start")), name="profile_workday_order"
            ),
        ]

    def __str__(self) -> str:
        return f"Profile of {self.user}"
