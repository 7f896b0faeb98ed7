"""The staff profile: what the app needs to know about a rep or manager beyond auth.User."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


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
