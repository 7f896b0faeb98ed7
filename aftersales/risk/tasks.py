"""Celery tasks of the customers app: thin, periodic (beat), each the twin of a management command."""

from __future__ import annotations

from celery import shared_task

from aftersales.health.services import health_recompute
from aftersales.risk.sweeps import sweep_quiet, sweep_risks


@shared_task(name="aftersales.risk.tasks.sweep_quiet_task")
def sweep_quiet_task() -> str:
    """Flag customers gone quiet and tell their owners (beat; command ``sweep_quiet``)."""
    return str(sweep_quiet())


@shared_task(name="aftersales.risk.tasks.sweep_risks_task")
def sweep_risks_task() -> str:
    """Flag renewals with no contact and falling temperatures (beat; command ``sweep_risks``)."""
    return str(sweep_risks())


# Customers per run: about a minute of work, well inside the task time limits;
# a larger backlog (a whole book made due) drains over the following runs.
HEALTH_PER_RUN = 50_000


@shared_task(name="aftersales.risk.tasks.health_recompute_task")
def health_recompute_task() -> int:
    """Recompute the health of customers whose signals changed (beat; command ``health_recompute``)."""
    return health_recompute(limit=HEALTH_PER_RUN)
