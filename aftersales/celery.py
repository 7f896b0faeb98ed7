"""The Celery app: broker, serialisation and limits come from Django settings
(``CELERY_*``); the beat schedule lives here, next to the app."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aftersales.settings")

app = Celery("aftersales")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    # Delivers outbox rows whose task was lost, whose retry is due or whose lease expired.
    "outbox-sweep": {"task": "aftersales.tasks.outbox_sweep_task", "schedule": 60.0},
}
