"""Remind customers who have not answered their survey, once.

The same service beat runs as feedback.tasks.survey_reminders_send_task."""

from __future__ import annotations

from feedback.management.commands._survey_job import SurveyJobCommand
from feedback.services.invitations import invitations_remind


class Command(SurveyJobCommand):
    help = "Remind customers who have not answered their survey, once."
    job = invitations_remind
    done = "Sent {count} survey reminder(s)."
