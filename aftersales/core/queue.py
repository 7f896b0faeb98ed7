"""Queue a Celery task by its name.

A task module imports the service it wraps, so a service that must set off a
task (the outbox queueing a delivery, a low survey answer queueing the loop
job) names the task instead of importing it: no import runs from a service up
to its task module, and the name each task declares with ``name=`` is the
contract between them (``tests/aftersales/core/test_queue.py`` checks that every name sent
is a task the worker registers).
"""

from __future__ import annotations

from collections.abc import Sequence

from celery import current_app
from django.db import transaction


def task_send(name: str, *, args: Sequence[object] = (), countdown: float | None = None) -> None:
    """Queue task ``name`` now (eagerly run in-process when ``task_always_eager`` is set, as Celery would)."""
    app = current_app
    if app.conf.task_always_eager:
        app.loader.import_default_modules()
        app.tasks[name].apply(args=tuple(args))
        return
    app.send_task(name, args=tuple(args), countdown=countdown)


def task_send_on_commit(name: str, *, args: Sequence[object] = (), countdown: float | None = None) -> None:
    """Queue task ``name`` once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: task_send(name, args=args, countdown=countdown), robust=True)
