"""Recording a customer's survey answer, and closing the loop on a low one.

The answer arrives by POST on the public survey page. One invitation has at
most one answer: the first POST creates it, later POSTs (until the invitation
expires) amend the same row. Concurrent POSTs on one token — a double click,
a retrying proxy, two tabs — are serialised on the invitation's row lock
(``SELECT … FOR UPDATE``) on PostgreSQL; on SQLite writers are serialised
anyway, and the OneToOne unique constraint is the last line either way.

A low answer (a detractor, CSAT 1–2, or a problem the customer flags) opens a
"close the loop" call for the owner within one business day, raises a flag
and mails the owner, all in the same transaction as the answer. Amending
never opens a second call: the response remembers its follow-up.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from aftersales.models import OutboxEmail, WebhookEvent
from aftersales.outbox import outbox_enqueue
from aftersales.webhooks import webhook_emit
from customers.models import Customer, FlagReason
from touchpoints import scheduling
from touchpoints.careplan import email_subject
from touchpoints.models import Channel, Kind, TouchPoint
from touchpoints.services import customer_record_two_way_contact, riskflag_raise

from .models import BuyAgain, SurveyInvitation, SurveyResponse

COMMENT_MAX_LENGTH = SurveyResponse._meta.get_field("comment").max_length
EXCERPT_LENGTH = 200


@dataclass(frozen=True)
class Answer:
    """What the customer submitted, already validated by the form."""

    nps: int | None = None
    csat: int | None = None
    would_buy_again: str = ""
    comment: str = ""
    problem_reported: bool = False

    def errors(self) -> dict[str, str]:
        errors = {}
        if self.nps is not None and not 0 <= self.nps <= 10:
            errors["nps"] = "NPS is 0–10."
        if self.csat is not None and not 1 <= self.csat <= 5:
            errors["csat"] = "CSAT is 1–5."
        if self.would_buy_again not in ("", *BuyAgain.values):
            errors["would_buy_again"] = "Yes, no or not sure."
        if len(self.comment) > COMMENT_MAX_LENGTH:
            errors["comment"] = f"At most {COMMENT_MAX_LENGTH} characters."
        return errors

    def loop_reasons(self) -> set[str]:
        """Why this answer needs a call back (DESIGN.md: NPS 0–6, CSAT ≤ 2, or a problem flagged)."""
        reasons = set()
        if self.nps is not None and self.nps <= 6:
            reasons.add(FlagReason.DETRACTOR)
        if self.csat is not None and self.csat <= 2:
            reasons.add(FlagReason.LOW_CSAT)
        if self.problem_reported:
            reasons.add(FlagReason.PROBLEM_REPORTED)
        return reasons

    @classmethod
    def of(cls, response: SurveyResponse) -> Answer:
        return cls(response.nps, response.csat, response.would_buy_again, response.comment, response.problem_reported)


def invitation_for_token(token: str) -> SurveyInvitation | None:
    """The invitation a clear token opens while it is answerable; None for unknown, tampered or expired."""
    if not token or len(token) > 100:
        return None
    return (
        SurveyInvitation.objects.for_token(token)
        .filter(expires_at__gt=timezone.now())
        .select_related("customer__owner", "survey")
        .first()
    )


@transaction.atomic
def survey_response_record(*, invitation: SurveyInvitation, answer: Answer) -> SurveyResponse:
    """Record (or amend) the answer to an invitation, and close the loop when it is low.

    Raises ValidationError for an expired invitation or an invalid answer,
    having written nothing.
    """
    errors = answer.errors()
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    # The lock: concurrent POSTs for this invitation queue here, so each sees
    # the answer the previous one left and amends it instead of adding one.
    # Only the invitation's row: a join here would also lock the customer and
    # the rep's user row, queueing every answer to that rep behind each other.
    expires_at = SurveyInvitation.objects.select_for_update().values_list("expires_at", flat=True).get(pk=invitation.pk)
    if expires_at <= now:
        raise ValidationError("This survey has expired.", code="expired")
    fields = {
        "nps": answer.nps,
        "csat": answer.csat,
        "would_buy_again": answer.would_buy_again,
        "comment": answer.comment,
        "problem_reported": answer.problem_reported,
    }
    response = SurveyResponse.objects.select_for_update().filter(invitation=invitation).first()
    created = False
    if response is None:
        try:
            with transaction.atomic():  # a savepoint: a lost INSERT race must not poison the transaction
                response = SurveyResponse.objects.create(
                    invitation=invitation, customer=invitation.customer, submitted_at=now, **fields
                )
                created = True
        except IntegrityError:
            response = SurveyResponse.objects.select_for_update().get(invitation=invitation)
    before: set[str] = set()
    if not created:  # an amendment: what the answer said before decides what is new
        before = Answer.of(response).loop_reasons()
        for name, value in fields.items():
            setattr(response, name, value)
        response.save(update_fields=[*fields, "updated_at"])
    SurveyInvitation.objects.filter(pk=invitation.pk, responded_at__isnull=True).update(responded_at=now)
    # An answered survey is two-way contact (it moves the quiet clock).
    customer_record_two_way_contact(customer=invitation.customer, at=now, by=None)
    new_reasons = answer.loop_reasons() - before
    if new_reasons:
        survey_loop_open(response=response, customer=invitation.customer, reasons=new_reasons, now=now)
    return response


def _excerpt(text: str) -> str:
    return " ".join(text.split())[:EXCERPT_LENGTH]


def _scores(response: SurveyResponse) -> str:
    parts = []
    if response.nps is not None:
        parts.append(f"NPS {response.nps}")
    if response.csat is not None:
        parts.append(f"CSAT {response.csat}")
    if response.problem_reported:
        parts.append("problem reported")
    return ", ".join(parts) or "no scores"


def survey_loop_open(*, response: SurveyResponse, customer: Customer, reasons: set[str], now: dt.datetime) -> None:
    """Flag the customer, open the call-back (once per response), tell the owner. Inside the answer's transaction."""
    excerpt = _excerpt(response.comment)
    detail = f"Survey {date_format(now, 'j M Y')}: {_scores(response)}" + (f': "{excerpt}"' if excerpt else "")
    for reason in sorted(reasons):
        riskflag_raise(customer=customer, reason=reason, detail=detail, data={"response": response.pk})
    opened = response.followup_id is None
    if opened:
        followup = TouchPoint.objects.create(
            customer=customer,
            assignee_id=customer.owner_id,
            kind=Kind.CLOSE_LOOP,
            channel=Channel.CALL,
            objective=f"Call back about the survey answer ({_scores(response)})"
            + (f': "{excerpt}"' if excerpt else "."),
            # Within one business day, on the customer's calendar.
            due_at=scheduling.next_business_day(now, customer.timezone),
        )
        response.followup, response.loop_opened_at = followup, now
        response.save(update_fields=["followup", "loop_opened_at"])
    _notify_owner(response=response, customer=customer, reasons=reasons)
    if FlagReason.DETRACTOR in reasons:
        webhook_emit(
            event=WebhookEvent.DETRACTOR_ANSWERED,
            payload={
                "response": {
                    "id": response.pk,
                    "nps": response.nps,
                    "csat": response.csat,
                    "comment": response.comment,
                    "submitted_at": response.submitted_at,
                },
                "customer": {"id": customer.pk, "external_ref": customer.external_ref, "name": customer.name},
            },
        )


def _notify_owner(*, response: SurveyResponse, customer: Customer, reasons: set[str]) -> OutboxEmail | None:
    owner = customer.owner
    if not owner.email:
        return None
    labels = [str(FlagReason(reason).label) for reason in sorted(reasons)]
    context = {
        "customer": customer,
        "owner": owner,
        "response": response,
        "reasons": labels,
        "followup": response.followup,
        "customer_url": settings.SITE_URL + reverse("customers:detail", args=[customer.pk]),
        "my_day_url": settings.SITE_URL + reverse("my_day"),
    }
    subject = email_subject(f"{', '.join(labels)}: {customer} answered the survey ({_scores(response)})")
    return outbox_enqueue(
        to=owner.email,
        subject=subject,
        body_text=render_to_string("emails/detractor_alert.txt", context),
        body_html=render_to_string("emails/detractor_alert.html", context),
        kind=OutboxEmail.Kind.NOTIFICATION,
        customer=customer,
        # The rep can answer the customer straight from the alert.
        reply_to=customer.email if re.fullmatch(r"[^\s@]+@[^\s@]+", customer.email or "") else "",
    )


def review_url(response: SurveyResponse) -> str:
    """Where a promoter is invited to leave a review; empty when not configured or not a promoter."""
    url = settings.AFTERSALES.get("REVIEW_URL", "")
    return url if url and response.nps is not None and response.nps >= 9 else ""
