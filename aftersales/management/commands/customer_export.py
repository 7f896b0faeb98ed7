"""Export everything held about one customer (GDPR access request), as the manager's Export button does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from aftersales.gdpr.services import EXPORT_FORMATS, customer_export_file
from customers.models import Customer


def staff_user(username: str | None):
    """The user named by ``--by`` (recorded in the audit trail); None means the system."""
    if not username:
        return None
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise CommandError(f"No user named {username!r}.")
    return user


class Command(BaseCommand):
    help = "Write one customer's data as JSON or a zip of CSV files; recorded in the audit trail."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("customer_id", type=int)
        parser.add_argument("--format", choices=EXPORT_FORMATS, default="json")
        parser.add_argument("--output", "-o", help="File to write (default: the export's own name, here).")
        parser.add_argument("--by", help="Username recorded as the one who exported (default: system).")

    def handle(self, *args: Any, customer_id: int, format: str, output: str | None, by: str | None, **opts: Any):
        customer = Customer.objects.filter(pk=customer_id).first()
        if customer is None:
            raise CommandError(f"No customer #{customer_id}.")
        filename, _content_type, body = customer_export_file(customer=customer, fmt=format, by=staff_user(by))
        path = Path(output or filename)
        path.write_bytes(body)
        self.stdout.write(f"Customer #{customer.pk} exported to {path} ({len(body):,} bytes).")
