"""Writes on customers, purchases, risk flags and the contact clock: ``<entity>_<verb>(*, ...)``, atomic.

One module per job; the names are gathered here so callers import them from
``customers.services``.
"""

from customers.services.consent import customer_email_opt_out_set
from customers.services.contact import customer_contact_move, customer_record_two_way_contact
from customers.services.customers import customer_create, customer_update
from customers.services.erasure import customer_anonymise
from customers.services.flags import (
    FLAG_DETAIL_MAX_LENGTH,
    RESOLUTION_MAX_LENGTH,
    SNOOZE_MAX_DAYS,
    FlagRaise,
    riskflag_raise,
    riskflag_resolve,
    riskflag_snooze,
    riskflags_raise,
    riskflags_raise_many,
    riskflags_resolve_many,
)
from customers.services.health import WEIGHT_RANGE, healthweights_update
from customers.services.merge import (
    customer_mark_merged,
    healthsnapshots_move_customer,
    purchases_move_customer,
    riskflags_move_customer,
)
from customers.services.owners import customers_owner_set
from customers.services.purchases import purchase_create, purchase_event_payload

__all__ = [
    "FLAG_DETAIL_MAX_LENGTH",
    "RESOLUTION_MAX_LENGTH",
    "SNOOZE_MAX_DAYS",
    "WEIGHT_RANGE",
    "FlagRaise",
    "customer_anonymise",
    "customer_contact_move",
    "customer_create",
    "customer_email_opt_out_set",
    "customer_mark_merged",
    "customers_owner_set",
    "customer_record_two_way_contact",
    "customer_update",
    "healthsnapshots_move_customer",
    "healthweights_update",
    "purchase_create",
    "purchase_event_payload",
    "purchases_move_customer",
    "riskflag_raise",
    "riskflag_resolve",
    "riskflag_snooze",
    "riskflags_move_customer",
    "riskflags_raise",
    "riskflags_raise_many",
    "riskflags_resolve_many",
]
