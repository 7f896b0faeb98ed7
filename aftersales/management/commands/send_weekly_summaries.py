"""Queue last week's per-rep summary to managers who asked for it, now.

The same service beat runs as ``aftersales.myday.tasks.weekly_summaries_send_task``.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from aftersales.myday.digests import weekly_summaries_send


class Command(BaseCommand):
    help = "Queue last week's per-rep summary to managers who asked for it (beat runs the same job periodically)."

    def handle(self, *args: Any, **options: Any) -> None:
        n = weekly_summaries_send()
        self.stdout.write(f"Queued {n} weekly summary email(s).")
