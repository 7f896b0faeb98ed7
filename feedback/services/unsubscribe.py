"""The unsubscribe link put in every survey (and care-plan) email.

A signed token, not a stored one: the link must keep working for as long as
old mail sits in an inbox, and clicking it twice must be harmless, so there is
nothing to consume. The salt keeps it apart from the care-plan link — a token
signed for one purpose never opens the other.
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from aftersales.audit.models import AuditAction
from aftersales.audit.services import audit_record
from aftersales.core.fields import field_max_length
from aftersales.core.roles import Actor, is_manager
from aftersales.mail.models import OutboxEmail
from customers.models import Customer
from customers.services import customer_email_opt_out_set
from feedback.models import ConsentAction, EmailConsentEvent
from touchpoints.careplan import signed_customer

TOKEN_SALT = "aftersales.unsubscribe"  # noqa: S105 (a namespace, not a secret)
REASON_MAX_LENGTH = field_max_length(EmailConsentEvent, "reason")
# Mail to a customer that stops the moment they unsubscribe, even if already queued.
CUSTOMER_MAIL_KINDS = (OutboxEmail.Kind.SURVEY, OutboxEmail.Kind.SURVEY_REMINDER, OutboxEmail.Kind.CARE_PLAN)


def unsubscribe_token(customer: Customer) -> str:
    return signing.dumps({"customer": customer.pk}, salt=TOKEN_SALT)


def unsubscribe_customer(token: str) -> Customer | None:
    """The customer a token was signed for; None for anything forged, altered or unknown."""
    return signed_customer(token, salt=TOKEN_SALT)


def unsubscribe_url(customer: Customer) -> str:
    """Absolute (SITE_URL): mail is rendered outside any request. Also the List-Unsubscribe target."""
    return settings.SITE_URL + reverse("feedback:unsubscribe", args=[unsubscribe_token(customer)])


@transaction.atomic
def customer_unsubscribe(*, customer: Customer) -> bool:
    """Opt the customer out of email; True when this call changed anything (a second click changes nothing).

    Survey and care-plan mail already queued for them and not yet sent is
    withdrawn from the outbox too: "no more surveys" starts now, not after
    the queue drains.
    """
    now = timezone.now()
    if not customer_email_opt_out_set(customer=customer, opted_out=True, at=now):
        return False
    EmailConsentEvent.objects.create(customer=customer, action=ConsentAction.OPTED_OUT, at=now)
    # No actor: the customer clicked the link themselves.
    audit_record(actor=None, action=AuditAction.UNSUBSCRIBED, obj=customer, changes={"email_opt_out": [False, True]})
    # A row a worker is sending right now (live lease) is left alone: it may already be gone.
    live_lease = Q(leased_until__gte=now)
    OutboxEmail.objects.pending().filter(customer=customer, kind__in=CUSTOMER_MAIL_KINDS).exclude(live_lease).update(
        failed_at=now, leased_until=None, last_error="Withdrawn: the customer unsubscribed."
    )
    return True


@transaction.atomic
def customer_resubscribe(*, customer: Customer, by: Actor, reason: str) -> EmailConsentEvent:
    """Staff undo an unsubscribe, saying why; the customer's rep or a manager only."""
    if not (is_manager(by) or customer.owner_id == by.pk):
        raise PermissionDenied("Only the customer's rep or a manager may resubscribe them.")
    reason = " ".join(reason.split())
    if not reason:
        raise ValidationError({"reason": "Say why the customer gets email again (e.g. they asked on a call)."})
    if len(reason) > REASON_MAX_LENGTH:
        raise ValidationError({"reason": f"Keep the reason under {REASON_MAX_LENGTH} characters."})
    now = timezone.now()
    if not customer_email_opt_out_set(customer=customer, opted_out=False, at=now):
        raise ValidationError("This customer is not unsubscribed; nothing was changed.", code="not_opted_out")
    audit_record(
        actor=by,
        action=AuditAction.RESUBSCRIBED,
        obj=customer,
        changes={"email_opt_out": [True, False], "reason": [None, reason]},
    )
    return EmailConsentEvent.objects.create(
        customer=customer, action=ConsentAction.RESUBSCRIBED, at=now, by=by, reason=reason
    )
