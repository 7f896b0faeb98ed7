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
