"""Celery task of the retention prune: thin, periodic (beat), the twin of ``manage.py prune``."""

from __future__ import annotations

from celery import shared_task

from aftersales.retention.services import retention_prune

PRUNE_TASK = "aftersales.retention.tasks.prune_task"


@shared_task(name=PRUNE_TASK)
def prune_task() -> str:
    """Delete mail, webhook deliveries, idempotency keys and import files past their keeping time (beat, hourly)."""
    return str(retention_prune())
