"""Queue the morning digest of reps whose workday has begun, now.

The same service beat runs as ``aftersales.myday.tasks.digests_send_task``.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from aftersales.myday.digests import digests_send


class Command(BaseCommand):
    help = "Queue the morning digest of reps whose workday has begun (beat runs the same job periodically)."

    def handle(self, *args: Any, **options: Any) -> None:
        n = digests_send()
        self.stdout.write(f"Queued {n} digest(s).")
