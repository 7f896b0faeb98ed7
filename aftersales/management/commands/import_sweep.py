"""Hand imports whose worker died back to a worker: the same sweep beat runs every minute."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from aftersales.imports.jobs import import_jobs_sweep


class Command(BaseCommand):
    help = (
        "Queue again the imports whose worker died (their lease ran out), or mark them failed after their last "
        "attempt (the job beat runs as aftersales.tasks.import_sweep_task)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        handled = import_jobs_sweep()
        self.stdout.write(f"{handled} import(s) queued again or marked failed.")
