"""Celery tasks of the outbox: thin wrappers that take ids and call the services."""

from __future__ import annotations

from celery import shared_task

from aftersales.mail.outbox import DELIVER_TASK, SWEEP_TASK, outbox_deliver, outbox_sweep


@shared_task(name=DELIVER_TASK)
def outbox_deliver_task(email_id: int) -> bool:
    """Deliver one outbox email; queued on commit by ``outbox_enqueue``."""
    return outbox_deliver(email_id=email_id)


@shared_task(name=SWEEP_TASK)
def outbox_sweep_task() -> int:
    """Deliver due outbox emails whose task was lost, whose retry is due or whose lease expired (beat, every minute)."""
    return outbox_sweep()
