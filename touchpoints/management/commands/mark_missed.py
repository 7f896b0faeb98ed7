"""Mark check-ups overdue beyond MISSED_GRACE_DAYS as missed, now.

The same service beat runs as ``touchpoints.tasks.touchpoints_mark_missed_task``.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from touchpoints.reminders import touchpoints_mark_missed


class Command(BaseCommand):
    help = "Mark check-ups overdue beyond MISSED_GRACE_DAYS as missed (beat runs the same job periodically)."

    def handle(self, *args: Any, **options: Any) -> None:
        n = touchpoints_mark_missed()
        self.stdout.write(f"Marked {n} check-up(s) missed.")
