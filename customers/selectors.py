"""Read-side look-ups on customers that more than one page and the API share."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from customers.models import Customer
from customers.phones import phone_or_none

DUPLICATES_LIMIT = 10


def customer_duplicates(*, email: str = "", phone: str = "", exclude_pk: int | None = None) -> QuerySet[Customer]:
    """Customers already on file with this e-mail (any case) or this phone (compared in E.164), with their owner.

    Whoever owns them: the caller decides what a user may see of another rep's
    customer (the pages show only the name and the rep). Merged and erased
    customers are not duplicates of anyone. Each match is an index look-up
    (customer_email_upper_idx, customer_phone_idx), bounded by DUPLICATES_LIMIT.
    """
    email = (email or "").strip()
    normal_phone = phone_or_none(phone or "")
    match = Q()
    # Each arm repeats its index's condition, so PostgreSQL can use the partial index (a BitmapOr of two).
    if email:
        match |= Q(email__iexact=email) & ~Q(email="")
    if normal_phone:
        match |= Q(phone=normal_phone) & ~Q(phone="")
    if not match:
        return Customer.objects.none()
    found = Customer.objects.not_merged().filter(erased_at__isnull=True).filter(match)
    if exclude_pk is not None:
        found = found.exclude(pk=exclude_pk)
    return found.select_related("owner").order_by("name", "pk")[:DUPLICATES_LIMIT]
