"""Import customers and purchases from a CSV or XLSX file: every problem listed first, then all or nothing."""

from __future__ import annotations

import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from aftersales.imports.commit import import_commit
from aftersales.imports.mapping import FIELD_NAMES, guess_mapping
from aftersales.imports.reading import ReadError, read_table
from aftersales.imports.validation import preview_table


class Command(BaseCommand):
    help = (
        "Import customers and sales from a spreadsheet. Columns are guessed from the header; override with "
        "--map field=Column. Prints every problem by row and column and writes nothing if there is any."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("path")
        parser.add_argument("--by", required=True, help="Importing user; owns rows without a rep")
        parser.add_argument(
            "--map", dest="mappings", action="append", default=[], metavar="FIELD=COLUMN", help=", ".join(FIELD_NAMES)
        )
        parser.add_argument("--dry-run", action="store_true", help="Check the file only")

    def handle(self, *args, path: str, by: str, mappings: list[str], dry_run: bool, **options) -> None:
        user = get_user_model().objects.filter(username=by).first()
        if user is None:
            raise CommandError(f"No user {by!r}.")
        started = time.monotonic()
        try:
            table = read_table(path)
        except (ReadError, OSError) as exc:
            raise CommandError(str(exc)) from None
        mapping = guess_mapping(table.header)
        for item in mappings:
            name, _, column = item.partition("=")
            if name not in FIELD_NAMES or column not in table.header:
                raise CommandError(f"--map {item!r}: fields are {', '.join(FIELD_NAMES)}; columns {table.header}")
            mapping[name] = column
        self.stdout.write("Columns: " + ", ".join(f"{name}←{column!r}" for name, column in mapping.items()))
        preview = preview_table(table, mapping)
        checked = time.monotonic()
        for error in preview.errors:
            self.stdout.write(f"row {error['row']}, {error['column']}: {error['message']}")
        summary = preview.summary()
        self.stdout.write(
            f"{summary['rows']} rows checked in {checked - started:.1f}s: {summary['new_customers']} new and "
            f"{summary['updated_customers']} existing customers, {summary['new_purchases']} new and "
            f"{summary['updated_purchases']} existing purchases, {summary['errors']} problems."
        )
        if preview.errors:
            raise CommandError("Nothing was imported: fix the problems above and run again.")
        if dry_run:
            return

        def progress(stage: str, done: int, total: int) -> None:
            if options["verbosity"] > 1:
                self.stdout.write(f"  {stage}: {done}/{total}")

        result = import_commit(preview=preview, by=user, progress=progress)
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported in {time.monotonic() - checked:.1f}s (total {time.monotonic() - started:.1f}s): "
                + ", ".join(f"{key.replace('_', ' ')} {value}" for key, value in result.items())
            )
        )
