"""Recompute health scores whose signals changed now: the job beat runs every 5 minutes."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from aftersales.health.services import health_recompute
from customers.models import Customer


class Command(BaseCommand):
    help = (
        "Recompute the health score of customers whose signals changed "
        "(task aftersales.risk.tasks.health_recompute_task)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=500, help="Customers per batch.")
        parser.add_argument(
            "--all", action="store_true", help="Mark every customer due first (e.g. after new weights)."
        )

    def handle(self, *args: Any, batch_size: int, all: bool, **options: Any) -> None:  # noqa: A002
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        if all:
            Customer.objects.mark_health_due()
        self.stdout.write(f"Recomputed {health_recompute(batch_size=batch_size)} health score(s).")
