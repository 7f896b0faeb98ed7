"""One rollup row per day: the at-risk count of that day and the dashboard as last computed."""

from __future__ import annotations

from django.db import models


class DailyRollup(models.Model):
    """Written by the ``dashboard_refresh`` job (beat, every few minutes): today's row is overwritten.

    Past rows keep the day's last at-risk count, so the trend needs no
    history table of flags; ``data`` of today's row is what the page shows.
    """

    day = models.DateField(unique=True)
    at_risk = models.PositiveIntegerField(help_text="Customers with at least one open risk flag.")
    data = models.JSONField(default=dict, blank=True)
    computed_at = models.DateTimeField()
    backfilled = models.BooleanField(
        default=False, help_text="Reconstructed from when flags were raised and resolved, not measured that day."
    )

    class Meta:
        ordering = ["-day"]

    def __str__(self) -> str:
        return f"{self.day}: {self.at_risk} at risk"
