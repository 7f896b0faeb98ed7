"""The Celery app: broker, serialisation and limits come from Django settings
(``CELERY_*``); the beat schedule lives here, next to the app."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aftersales.settings")

app = Celery("aftersales")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Each package with a tasks module; the domain apps are found through INSTALLED_APPS.
app.autodiscover_tasks()
app.autodiscover_tasks(
    [
        "aftersales.mail",
        "aftersales.webhooks",
        "aftersales.imports",
        "aftersales.myday",
        "aftersales.risk",
        "aftersales.retention",
    ]
)

# Only one beat may run this schedule: aftersales.beat.LockedScheduler refuses a second.
app.conf.beat_schedule = {
    # Delivers outbox rows whose task was lost, whose retry is due or whose lease expired.
    "outbox-sweep": {"task": "aftersales.tasks.outbox_sweep_task", "schedule": 60.0},
    # Rep workflow (touchpoints/reminders.py, aftersales/myday/digests.py); each job is also a management command.
    # Every few minutes, so a reminder arrives soon after its check-up falls due.
    "touchpoint-reminders": {"task": "touchpoints.tasks.reminders_send_task", "schedule": 60.0},
    # Often, because "morning" is each rep's own workday start; sends once per rep and day.
    "morning-digests": {"task": "aftersales.myday.tasks.digests_send_task", "schedule": 300.0},
    "mark-missed": {"task": "touchpoints.tasks.touchpoints_mark_missed_task", "schedule": 3600.0},
    # Sends once per manager and week, at the start of their first working hour of the week.
    "weekly-summaries": {"task": "aftersales.myday.tasks.weekly_summaries_send_task", "schedule": 1800.0},
    # Risk sweeps (aftersales/risk/sweeps.py) and health (aftersales/health/services.py); commands sweep_quiet,
    # sweep_risks, health_recompute. A re-run with nothing new costs well under a second.
    "sweep-quiet": {"task": "aftersales.risk.tasks.sweep_quiet_task", "schedule": 900.0},
    "sweep-risks": {"task": "aftersales.risk.tasks.sweep_risks_task", "schedule": 3600.0},
    "health-recompute": {"task": "aftersales.risk.tasks.health_recompute_task", "schedule": 300.0},
    # Survey loop (feedback/services/invitations.py); commands survey_invitations_plan, survey_invitations_send,
    # survey_reminders_send. Sending every minute: an invitation goes out at most a minute after its send_at.
    "survey-invitations-plan": {"task": "feedback.tasks.survey_invitations_plan_task", "schedule": 300.0},
    "survey-invitations-send": {"task": "feedback.tasks.survey_invitations_send_task", "schedule": 60.0},
    "survey-reminders-send": {"task": "feedback.tasks.survey_reminders_send_task", "schedule": 900.0},
    # Closing the loop on low answers (feedback/services/loops.py; command survey_loops_open). Each low
    # answer queues it at once; this run only catches a queueing lost to a broker outage.
    "survey-loops-open": {"task": "feedback.tasks.survey_loops_open_task", "schedule": 30.0},
    # Like outbox-sweep, for webhook deliveries (aftersales/webhooks/services.py).
    "webhook-sweep": {"task": "aftersales.tasks.webhook_sweep_task", "schedule": 60.0},
    # Spreadsheet imports whose worker died (aftersales/imports/jobs.py; command import_sweep): queued again
    # once their lease has run out, or marked failed after their last attempt.
    "import-sweep": {"task": "aftersales.tasks.import_sweep_task", "schedule": 60.0},
    # Managers' dashboard (aftersales/dashboard/rollups.py; command dashboard_refresh): the page shows "as of".
    "dashboard-refresh": {"task": "aftersales.dashboard.tasks.dashboard_refresh_task", "schedule": 300.0},
    # Retention (aftersales/retention/services.py; command prune): old mail, webhook deliveries, idempotency
    # keys and import files, in bounded batches; a backlog drains over the following hours.
    "prune": {"task": "aftersales.retention.tasks.prune_task", "schedule": 3600.0},
}
