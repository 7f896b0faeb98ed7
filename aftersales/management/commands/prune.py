"""Delete what is past its keeping time now: the job beat runs every hour."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from aftersales.retention.services import BATCH_SIZE, MAX_BATCHES, retention_prune


class Command(BaseCommand):
    help = (
        "Delete sent mail, webhook deliveries, idempotency keys and import files past their keeping time "
        "(OUTBOX_KEEP_DAYS, WEBHOOK_KEEP_DAYS, IDEMPOTENCY_KEEP_HOURS, IMPORT_KEEP_DAYS); audit events are kept. "
        "The job beat runs as aftersales.retention.tasks.prune_task."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE, help="Rows per DELETE.")
        parser.add_argument("--max-batches", type=int, default=MAX_BATCHES, help="At most this many per kind.")

    def handle(self, *args: Any, batch_size: int, max_batches: int, **options: Any) -> None:
        if batch_size < 1 or max_batches < 1:
            raise CommandError("--batch-size and --max-batches must be at least 1.")
        self.stdout.write(f"Pruned {retention_prune(batch_size=batch_size, max_batches=max_batches)}.")
