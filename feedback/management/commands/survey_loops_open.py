"""Open the loop on low survey answers still pending: flags, the owner's call back, the owner's mail.

The same service the worker runs as feedback.tasks.survey_loops_open_task
(queued by each low answer, and by beat every 30 seconds)."""

from __future__ import annotations

from feedback.management.commands._survey_job import SurveyJobCommand
from feedback.services.loops import survey_loops_open


class Command(SurveyJobCommand):
    help = "Open the loop (flag, call back, owner's mail) on low survey answers still pending."
    job = survey_loops_open
    done = "Opened the loop on {count} answer(s)."
