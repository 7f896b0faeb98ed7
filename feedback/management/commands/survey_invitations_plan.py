"""Plan the survey invitations due after a delivery and the periodic relationship surveys.

The same service beat runs as feedback.tasks.survey_invitations_plan_task."""

from __future__ import annotations

from feedback.management.commands._survey_job import SurveyJobCommand
from feedback.services.invitations import invitations_plan


class Command(SurveyJobCommand):
    help = "Plan the survey invitations due after a delivery and the periodic relationship surveys."
    job = invitations_plan
    done = "Planned {count} survey invitation(s)."
