"""Celery tasks of the webhooks: thin wrappers that take ids and call the services."""

from __future__ import annotations

from celery import shared_task

from aftersales.webhooks.services import DELIVER_TASK, SWEEP_TASK, webhook_deliver, webhook_sweep


@shared_task(name=DELIVER_TASK)
def webhook_deliver_task(delivery_id: int) -> bool:
    """POST one webhook delivery; queued on commit by ``webhook_emit``."""
    return webhook_deliver(delivery_id=delivery_id)


@shared_task(name=SWEEP_TASK)
def webhook_sweep_task() -> int:
    """Deliver due webhook deliveries whose task was lost, whose retry is due or whose lease expired (beat)."""
    return webhook_sweep()
