"""Recompute the managers' dashboard now: the job beat runs every 5 minutes."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from aftersales.dashboard.rollups import dashboard_refresh


class Command(BaseCommand):
    help = "Recompute the dashboard's charts and today's at-risk count (task dashboard_refresh_task)."

    def handle(self, *args: Any, **options: Any) -> None:
        rollup = dashboard_refresh()
        self.stdout.write(f"Dashboard refreshed: {rollup.at_risk} customer(s) at risk on {rollup.day}.")
