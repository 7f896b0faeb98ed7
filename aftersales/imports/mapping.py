"""Which column of the file is which field: the fields, and guesses from the header."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    required: bool = False
    aliases: tuple[str, ...] = ()
    help: str = ""


FIELDS = (
    Field("customer_ref", "Customer reference", True, ("customer id", "client id", "customer number", "account")),
    Field("name", "Customer name", True, ("customer", "customer name", "client", "full name", "contact")),
    Field("company", "Company", False, ("organisation", "organization", "business")),
    Field("email", "Email", False, ("e-mail", "mail", "email address")),
    Field("phone", "Phone", False, ("telephone", "tel", "mobile", "phone number")),
    Field("language", "Language", False, ("lang", "locale"), "en, es or ru"),
    Field("timezone", "Time zone", False, ("tz", "time zone"), "e.g. Europe/Madrid"),
    Field("owner", "Rep", False, ("rep", "sales rep", "owner", "account manager", "salesperson"), "username or email"),
    Field("order_ref", "Order reference", False, ("order", "order id", "order number", "invoice", "purchase id")),
    Field("product", "Product SKU", False, ("sku", "product code", "item", "article")),
    Field("ordered_at", "Ordered on", False, ("order date", "date", "sale date", "ordered")),
    Field("delivered_at", "Delivered on", False, ("delivery date", "delivered", "shipped")),
    Field("amount", "Amount", False, ("total", "price", "value", "net amount")),
    Field("currency", "Currency", False, ("curr", "ccy")),
    Field("renewal_date", "Renewal date", False, ("renewal", "renews on", "contract end")),
)
FIELD_NAMES = tuple(field.name for field in FIELDS)
FIELD_BY_NAME = {field.name: field for field in FIELDS}


def _normal(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def guess_mapping(header: list[str]) -> dict[str, str]:
    """Field name → column name, for the columns whose header looks like a field; each column used once."""
    columns = {_normal(column): column for column in header if column}
    mapping: dict[str, str] = {}
    used: set[str] = set()
    # Exact names first (field name, label, aliases), in field order, then nothing fancy: a wrong guess is worse.
    for field in FIELDS:
        for candidate in (field.name, field.label, *field.aliases):
            column = columns.get(_normal(candidate))
            if column is not None and column not in used:
                mapping[field.name] = column
                used.add(column)
                break
    return mapping
