"""Celery tasks of the survey loop: thin wrappers around feedback/services/ (beat runs them)."""

from __future__ import annotations

from celery import shared_task

from feedback.services.invitations import invitations_plan, invitations_remind, invitations_send
from feedback.services.loops import OPEN_TASK, survey_loops_open


@shared_task(name="feedback.tasks.survey_invitations_plan_task")
def survey_invitations_plan_task() -> int:
    """Plan the due after-delivery and relationship surveys (beat, every 15 minutes)."""
    return invitations_plan()


@shared_task(name="feedback.tasks.survey_invitations_send_task")
def survey_invitations_send_task() -> int:
    """Send the survey invitations that are due (beat, every minute)."""
    return invitations_send()


@shared_task(name="feedback.tasks.survey_reminders_send_task")
def survey_reminders_send_task() -> int:
    """Remind non-responders once (beat, every 15 minutes)."""
    return invitations_remind()


@shared_task(name=OPEN_TASK)
def survey_loops_open_task() -> int:
    """Open the loop on pending low answers (queued by the answer's commit; beat, every 30 seconds)."""
    return survey_loops_open()
