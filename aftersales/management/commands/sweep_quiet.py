"""Flag customers gone quiet and tell their owners now: the job beat runs every 15 minutes."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from aftersales.risk.sweeps import BATCH_IDS, sweep_quiet


class Command(BaseCommand):
    help = (
        "Flag customers whose quiet date has passed and email their owners "
        "(task aftersales.risk.tasks.sweep_quiet_task)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-ids", type=int, default=BATCH_IDS, help="Customer ids per SQL statement.")

    def handle(self, *args: Any, batch_ids: int, **options: Any) -> None:
        if batch_ids < 1:
            raise CommandError("--batch-ids must be at least 1.")
        self.stdout.write(f"Gone quiet: {sweep_quiet(batch_ids=batch_ids)}.")
