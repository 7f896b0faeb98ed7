"""The shape the survey job commands share: the same service beat runs, in batches, printing a count."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class SurveyJobCommand(BaseCommand):
    job: Callable[..., int]
    done: str  # "... {count} ..."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=200, help="Rows per batch.")

    def handle(self, *args: Any, batch_size: int, **options: Any) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        count = type(self).job(batch_size=batch_size)
        self.stdout.write(self.done.format(count=count))
