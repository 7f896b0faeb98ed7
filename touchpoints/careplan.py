"""The care plan shared with the customer: the email, the tokenised page, the "date moved" note.

After a sale the customer is told, in writing and in their own language, when
we will be in touch and what we will review with them, signed by their rep.
The same list is on a page reached by a signed link (no login). Later, a
change to the plan reaches the customer only when a date actually moves.

Every email goes through the outbox inside the caller's transaction, so the
customer hears about a plan exactly when the plan exists.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from aftersales.core.models import UserProfile
from aftersales.core.roles import Actor
from aftersales.mail.models import OutboxEmail
from aftersales.mail.outbox import outbox_enqueue
from customers.models import Customer
from touchpoints.models import Kind, TouchPoint

# What the customer is shown: the plan's check-ups and the renewal calls.
# Follow-ups, "close the loop" calls and ad hoc contacts are the rep's business.
CARE_PLAN_KINDS = (Kind.PLANNED, Kind.RENEWAL)
# A salt of its own: a token signed for another purpose (a survey link, a
# password reset) can never open a care plan, and the other way round.
TOKEN_SALT = "touchpoints.careplan"  # noqa: S105 (a namespace, not a secret)
# Signed tokens are ~40 characters; anything much longer is not one of ours.
TOKEN_MAX_LENGTH = 200
MAX_CHECKUPS = 50
SUBJECT_MAX_LENGTH = 300  # OutboxEmail.subject


# --- The link -------------------------------------------------------------------


def careplan_token(customer: Customer) -> str:
    return signing.dumps({"customer": customer.pk}, salt=TOKEN_SALT)


def careplan_customer(token: str) -> Customer | None:
    """The customer a care-plan token was signed for; None for anything forged, altered or stale."""
    return signed_customer(token, salt=TOKEN_SALT)


def signed_customer(token: str, *, salt: str) -> Customer | None:
    """The customer a token was signed for with ``salt`` (care plan, unsubscribe); None for anything else."""
    if not token or len(token) > TOKEN_MAX_LENGTH:
        return None
    try:
        payload = signing.loads(token, salt=salt)
    except signing.BadSignature:
        return None
    customer_id = payload.get("customer") if isinstance(payload, dict) else None
    if not isinstance(customer_id, int):
        return None
    # An erased customer's old links open the invalid page: nothing of theirs is left to show or change.
    customer = Customer.objects.not_erased().select_related("owner").filter(pk=customer_id).first()
    if customer is not None and customer.merged_into_id is not None:
        # A link mailed before a merge is the same person's: it opens (or unsubscribes) the customer kept.
        customer = Customer.objects.not_erased().select_related("owner").filter(pk=customer.merged_into_id).first()
    return customer


def careplan_url(customer: Customer) -> str:
    """The absolute link put in the email (SITE_URL, since mail is rendered outside any request)."""
    return settings.SITE_URL + reverse("careplan", args=[careplan_token(customer)])


# --- What the customer reads ------------------------------------------------------


@dataclass(frozen=True)
class CheckupLine:
    """One check-up as the customer reads it: already formatted in their language and time zone."""

    day: str
    time: str
    iso: str
    channel: str
    objective: str
    product: str


def careplan_checkups(customer: Customer) -> list[TouchPoint]:
    """The customer's scheduled plan and renewal check-ups from today on (their today), soonest first."""
    tz = customer.tz
    start_of_today = dt.datetime.combine(timezone.now().astimezone(tz).date(), dt.time.min, tzinfo=tz)
    return list(
        customer.touchpoints.scheduled()
        .filter(kind__in=CARE_PLAN_KINDS, due_at__gte=start_of_today)
        .select_related("purchase__product")
        .order_by("due_at", "pk")[:MAX_CHECKUPS]
    )


def _when(moment: dt.datetime, tz: zoneinfo.ZoneInfo) -> tuple[str, str]:
    """("Monday, 2 March 2026", "10:00") in the active language, on the customer's clock."""
    local = moment.astimezone(tz)
    return f"{date_format(local, 'l')}, {date_format(local, 'DATE_FORMAT')}", date_format(local, "TIME_FORMAT")


def _objective(touchpoint: TouchPoint) -> str:
    """The step's objective as the manager wrote it; renewal calls are worded in the customer's language."""
    purchase = touchpoint.purchase
    if touchpoint.kind == Kind.RENEWAL and purchase is not None and purchase.renewal_date:
        return _("Your renewal on %(date)s: how things are going, and what you need next.") % {
            "date": date_format(purchase.renewal_date, "DATE_FORMAT")
        }
    return touchpoint.objective


def _line(touchpoint: TouchPoint, tz: zoneinfo.ZoneInfo) -> CheckupLine:
    day, time = _when(touchpoint.due_at, tz)
    return CheckupLine(
        day=day,
        time=time,
        iso=touchpoint.due_at.astimezone(tz).isoformat(),
        channel=str(touchpoint.get_channel_display()),
        objective=_objective(touchpoint),
        product=touchpoint.purchase.product.name if touchpoint.purchase is not None else "",
    )


def rep_contact(user: Actor) -> dict[str, str]:
    """How the customer reaches their rep: name, email and, when the profile has one, a phone number."""
    phone = UserProfile.objects.filter(user=user).values_list("phone", flat=True).first() or ""
    return {"name": user.get_full_name() or user.get_username(), "email": user.email, "phone": phone}


def careplan_context(customer: Customer, checkups: list[TouchPoint]) -> dict:
    """Everything the email and the page show; call inside the customer's language."""
    return {
        "customer": customer,
        "lines": [_line(touchpoint, customer.tz) for touchpoint in checkups],
        "rep": rep_contact(customer.owner),
        "language": customer.language,
    }


def email_subject(text: str) -> str:
    """One line, whatever a product or customer name contains: CR/LF would forge mail headers."""
    return re.sub(r"\s+", " ", text).strip()[:SUBJECT_MAX_LENGTH]


def can_email(customer: Customer) -> bool:
    return bool(customer.email) and not customer.email_opt_out


def _enqueue(customer: Customer, template: str, subject: str, context: dict) -> OutboxEmail:
    context = {**context, "subject": subject, "care_plan_url": careplan_url(customer)}
    rep = context["rep"]
    return outbox_enqueue(
        to=customer.email,
        subject=subject,
        body_text=render_to_string(f"emails/{template}.txt", context),
        body_html=render_to_string(f"emails/{template}.html", context),
        kind=OutboxEmail.Kind.CARE_PLAN,
        customer=customer,
        # Replies go to the rep who signed the mail, not to a no-reply box.
        reply_to=rep["email"] or "",
    )


# --- The two emails --------------------------------------------------------------


def careplan_send(*, customer: Customer, purchase=None) -> OutboxEmail | None:
    """Queue the care-plan email; None when the customer cannot be mailed or nothing is coming up.

    Call inside the transaction that scheduled the check-ups (``purchase_record``).
    """
    if not can_email(customer):
        return None
    checkups = careplan_checkups(customer)
    if not checkups:
        return None
    with translation.override(customer.language), timezone.override(customer.tz):
        context = careplan_context(customer, checkups)
        product_name = purchase.product.name if purchase is not None else ""
        if product_name:
            subject = _("Your care plan for %(product)s: when we will be in touch") % {"product": product_name}
        else:
            subject = _("Your care plan: when we will be in touch")
        return _enqueue(customer, "care_plan", email_subject(subject), {**context, "product_name": product_name})


def careplan_notify_date_moved(*, touchpoint: TouchPoint, old_due_at: dt.datetime) -> OutboxEmail | None:
    """Tell the customer a check-up of their care plan moved to another day; call after saving the new due_at.

    Nothing is sent when the calendar day stays the same on the customer's
    clock (a new hour is not news), for check-ups they were never shown,
    or when the customer cannot be mailed.
    """
    customer = touchpoint.customer
    tz = customer.tz
    if touchpoint.kind not in CARE_PLAN_KINDS or not can_email(customer):
        return None
    if old_due_at.astimezone(tz).date() == touchpoint.due_at.astimezone(tz).date():
        return None
    with translation.override(customer.language), timezone.override(tz):
        old_day, _old_time = _when(old_due_at, tz)
        line = _line(touchpoint, tz)
        context = {
            "customer": customer,
            "old_day": old_day,
            "line": line,
            "rep": rep_contact(customer.owner),
            "language": customer.language,
        }
        subject = email_subject(_("Your check-up has moved to %(day)s") % {"day": line.day})
        return _enqueue(customer, "care_plan_moved", subject, context)
