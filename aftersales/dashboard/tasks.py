"""Celery task of the dashboard: thin, periodic (beat), the twin of the ``dashboard_refresh`` command."""

from __future__ import annotations

from celery import shared_task

from aftersales.dashboard.rollups import dashboard_refresh


@shared_task(name="aftersales.dashboard.tasks.dashboard_refresh_task")
def dashboard_refresh_task() -> str:
    """Recompute the dashboard's charts and today's at-risk count (beat, every 5 minutes)."""
    return str(dashboard_refresh())
