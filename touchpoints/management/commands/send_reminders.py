"""Queue reminders for check-ups that have fallen due, now.

The same service beat runs as ``touchpoints.tasks.reminders_send_task``.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from touchpoints.reminders import reminders_send


class Command(BaseCommand):
    help = "Queue reminders for check-ups that have fallen due (beat runs the same job periodically)."

    def handle(self, *args: Any, **options: Any) -> None:
        n = reminders_send()
        self.stdout.write(f"Queued {n} reminder(s).")
