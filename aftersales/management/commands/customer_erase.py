"""Erase one customer (GDPR erasure request), as the manager's Erase button does."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from aftersales.gdpr.services import customer_erase
from aftersales.management.commands.customer_export import staff_user
from customers.models import Customer


class Command(BaseCommand):
    help = "Anonymise one customer and suppress their address for good (aftersales/gdpr/services.py); cannot be undone."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("customer_id", type=int)
        parser.add_argument("--yes", action="store_true", help="Do not ask; erase (for scripts).")
        parser.add_argument("--by", help="Username recorded as the one who erased (default: system).")

    def handle(self, *args: Any, customer_id: int, yes: bool, by: str | None, **options: Any) -> None:
        customer = Customer.objects.filter(pk=customer_id).first()
        if customer is None:
            raise CommandError(f"No customer #{customer_id}.")
        actor = staff_user(by)
        if not yes:
            answer = input(f"Erase customer #{customer.pk} ({customer.name})? This cannot be undone. Type ERASE: ")
            if answer.strip() != "ERASE":
                raise CommandError("Not erased.")
        try:
            customer_erase(customer=customer, by=actor)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stdout.write(f"Customer #{customer.pk} erased; their address is suppressed.")
