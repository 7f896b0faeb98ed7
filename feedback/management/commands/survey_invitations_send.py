"""Send the survey invitations that are due.

The same service beat runs as feedback.tasks.survey_invitations_send_task."""

from __future__ import annotations

from feedback.management.commands._survey_job import SurveyJobCommand
from feedback.services.invitations import invitations_send


class Command(SurveyJobCommand):
    help = "Send the survey invitations that are due."
    job = invitations_send
    done = "Sent {count} survey invitation(s)."
