"""manage.py seed_demo: demo users and realistic demo data (see aftersales/demo/)."""

from __future__ import annotations

import sys
import time

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from aftersales.demo import DEMO_PASSWORD, DEMO_USERS, seed_demo


class Command(BaseCommand):
    help = (
        "Create the demo users (manager, rep1, rep2; password 'aftersales-demo') and realistic demo data: "
        "products with check-up plans, English, Spanish and Russian customers, 18 months of purchases, "
        "touch points in every state, survey answers, quiet customers with risk flags. "
        "Users are never duplicated. Each run adds customers: --if-empty skips the run when any customer exists, "
        "--reset first deletes the customers earlier runs created."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--customers", type=int, default=300, help="How many customers to add (default 300).")
        parser.add_argument(
            "--seed",
            type=int,
            default=42,
            help="Random seed (default 42): same seed, same day, same data (dates count back from now).",
        )
        parser.add_argument(
            "--if-empty", action="store_true", help="Do nothing if the database already has customers (make run)."
        )
        parser.add_argument(
            "--reset",
            action="store_true",
            help="First delete the customers a previous seed_demo created (external_ref DEMO-C…) with all their "
            "purchases, touch points, surveys and flags. Slow on very large data: use a fresh database there.",
        )
        parser.add_argument("--chunk-size", type=int, default=2000, help="Customers written per batch.")

    def handle(self, *args, customers: int, seed: int, if_empty: bool, reset: bool, chunk_size: int, **options):
        if customers < 0 or chunk_size < 1:
            raise CommandError("--customers must be 0 or more and --chunk-size at least 1.")
        verbosity = options["verbosity"]
        with _Progress(customers, enabled=verbosity > 0) as progress:
            result = seed_demo(
                customers=customers, seed=seed, if_empty=if_empty, reset=reset, progress=progress, chunk_size=chunk_size
            )
        if result.skipped:
            if verbosity:
                self.stdout.write("Customers already exist; --if-empty: nothing to do.")
            return
        if verbosity:
            rows = ", ".join(f"{count:,} {name}" for name, count in result.created.items())
            self.stdout.write(self.style.SUCCESS(f"Demo data created in {result.seconds:.1f}s: {rows}."))
            logins = ", ".join(spec.username for spec in DEMO_USERS)
            self.stdout.write(f"Demo logins: {logins} (password: {DEMO_PASSWORD})")


class _Progress:
    """A tqdm bar on a terminal; elsewhere (make run's log, CI) a line every 10%."""

    def __init__(self, total: int, *, enabled: bool) -> None:
        self.total = total
        self.enabled = enabled and total > 0
        self.tty = sys.stderr.isatty()
        self.bar = None
        self.started = time.monotonic()
        self.next_report = 0.1

    def __enter__(self) -> _Progress:
        if self.enabled and self.tty:
            self.bar = tqdm(total=self.total, unit=" customers", file=sys.stderr, smoothing=0.1)
        return self

    def __call__(self, done: int) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(done - self.bar.n)
        elif done / self.total >= self.next_report or done == self.total:
            elapsed = time.monotonic() - self.started
            sys.stderr.write(f"seed_demo: {done:,}/{self.total:,} customers ({elapsed:.0f}s)\n")
            sys.stderr.flush()
            while self.next_report <= done / self.total:
                self.next_report += 0.1

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()
