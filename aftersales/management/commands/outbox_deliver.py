"""Deliver due outbox emails now: the same sweep beat runs every minute."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from aftersales.mail.outbox import outbox_sweep


class Command(BaseCommand):
    help = "Deliver due emails from the outbox (the job beat runs as aftersales.tasks.outbox_sweep_task)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=500, help="At most this many emails per run.")

    def handle(self, *args: Any, batch_size: int, **options: Any) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        sent = outbox_sweep(batch_size=batch_size)
        self.stdout.write(f"Sent {sent} email(s).")
