"""Flag renewals near with no contact and falling temperatures now: the job beat runs every hour."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from aftersales.risk.sweeps import BATCH_IDS, sweep_risks


class Command(BaseCommand):
    help = (
        "Flag renewals within the window with no recent contact and temperatures falling over three check-ups, "
        "and email the owners (task aftersales.risk.tasks.sweep_risks_task)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-ids", type=int, default=BATCH_IDS, help="Customer ids per SQL statement.")

    def handle(self, *args: Any, batch_ids: int, **options: Any) -> None:
        if batch_ids < 1:
            raise CommandError("--batch-ids must be at least 1.")
        self.stdout.write(f"Renewals and temperatures: {sweep_risks(batch_ids=batch_ids)}.")
