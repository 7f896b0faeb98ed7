"""Celery tasks of the shared app: thin wrappers that take ids and call services."""

from __future__ import annotations

from celery import shared_task

from .outbox import outbox_deliver, outbox_sweep


@shared_task(name="aftersales.tasks.outbox_deliver_task")
def outbox_deliver_task(email_id: int) -> bool:
    """Deliver one outbox email; queued on commit by ``outbox_enqueue``."""
    return outbox_deliver(email_id=email_id)


@shared_task(name="aftersales.tasks.outbox_sweep_task")
def outbox_sweep_task() -> int:
    """Deliver due outbox emails whose task was lost, whose retry is due or whose lease expired (beat, every minute)."""
    return outbox_sweep()


@shared_task(name="aftersales.tasks.webhook_deliver_task")
def webhook_deliver_task(delivery_id: int) -> bool:
    """POST one webhook delivery; queued on commit by ``webhook_emit``."""
    from .webhooks import webhook_deliver

    return webhook_deliver(delivery_id=delivery_id)


@shared_task(name="aftersales.tasks.webhook_sweep_task")
def webhook_sweep_task() -> int:
    """Deliver due webhook deliveries whose task was lost, whose retry is due or whose lease expired (beat)."""
    from .webhooks import webhook_sweep

    return webhook_sweep()


@shared_task(name="aftersales.tasks.import_commit_task", soft_time_limit=1800, time_limit=1900)
def import_commit_task(job_id: int) -> str:
    """Commit a previewed spreadsheet import (customers/imports/jobs.py); queued on commit."""
    from customers.imports.jobs import import_job_run

    return import_job_run(job_id=job_id).status
