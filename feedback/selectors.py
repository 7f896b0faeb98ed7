"""Reads about surveys: a customer's invitations and the response rates managers look at.

Rates are one query each, counted in SQL with conditional aggregation over
the invitations sent in a window (invitation_rate_idx on sent_at).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from aftersales.core.roles import Actor
from customers.models import Customer, Product
from feedback.models import EmailConsentEvent, SurveyInvitation, SurveyResponse

CUSTOMER_INVITATION_LIMIT = 10


def invitation_state(invitation: SurveyInvitation, now: dt.datetime) -> str:
    """answered / expired / opened / sent / not sent yet — the furthest the invitation got."""
    if invitation.responded_at:
        return "answered"
    if invitation.expires_at <= now:
        return "expired"
    if invitation.opened_at:
        return "opened"
    if invitation.sent_at:
        return "sent"
    return "scheduled"


def _counts(now: dt.datetime) -> dict[str, Count]:
    sent = Q(sent_at__isnull=False)
    return {
        "sent": Count("pk", filter=sent),
        "opened": Count("pk", filter=sent & Q(opened_at__isnull=False)),
        "answered": Count("pk", filter=sent & Q(responded_at__isnull=False)),
        "expired": Count("pk", filter=sent & Q(responded_at__isnull=True, expires_at__lte=now)),
    }


@dataclass(frozen=True)
class RateRow:
    label: str
    sent: int
    opened: int
    answered: int
    expired: int

    @property
    def rate(self) -> int | None:
        """Answered as a whole percentage of sent; None when nothing was sent."""
        return round(100 * self.answered / self.sent) if self.sent else None


def customer_surveys(customer: Customer, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """The customer page's survey section: totals, the latest invitations and the consent history (3 queries)."""
    now = now or timezone.now()
    invitations = customer.survey_invitations.all()
    totals = invitations.aggregate(**_counts(now))
    latest = list(
        invitations.select_related("survey", "response").order_by("-send_at", "-pk")[:CUSTOMER_INVITATION_LIMIT]
    )
    for invitation in latest:
        invitation.state = invitation_state(invitation, now)
    consent = list(EmailConsentEvent.objects.filter(customer=customer).select_related("by").order_by("-at", "-pk")[:10])
    return {"totals": RateRow(label="", **totals), "invitations": latest, "consent": consent}


def response_rates_by(dimension: str, *, since: dt.datetime, now: dt.datetime | None = None) -> list[RateRow]:
    """Sent / opened / answered / expired per product or per rep, for invitations sent since ``since``.

    An invitation's product is its survey's, or else the product of the
    check-up that triggered it; relationship surveys have none.
    """
    now = now or timezone.now()
    key: Coalesce | F
    model: type[Product] | type[Actor]
    if dimension == "product":
        key, model, fallback = (
            Coalesce("survey__product", "touchpoint__purchase__product"),
            Product,
            "No single product",
        )
    elif dimension == "rep":
        key, model, fallback = F("customer__owner"), get_user_model(), "—"
    else:
        raise ValueError(dimension)
    # Mappings: django-stubs cannot see the counts' names through ``**_counts(now)``.
    rows: list[Mapping[str, Any]] = list(
        SurveyInvitation.objects.filter(sent_at__gte=since)
        .annotate(group=key)
        .order_by()
        .values("group")
        .annotate(**_counts(now))
    )
    names = {obj.pk: _name(obj) for obj in model.objects.filter(pk__in=[row["group"] for row in rows])}
    result = [
        RateRow(
            label=names.get(row["group"], fallback), **{k: row[k] for k in ("sent", "opened", "answered", "expired")}
        )
        for row in rows
    ]
    return sorted(result, key=lambda row: (-row.sent, row.label))


def _name(obj: Product | Actor) -> str:
    if isinstance(obj, Product):
        return obj.name
    return obj.get_full_name() or obj.get_username()


def loop_times(*, since: dt.datetime) -> dict[str, Any]:
    """How fast low answers get their call back: closed loops, the average time, and loops still open."""
    loops = SurveyResponse.objects.filter(loop_opened_at__gte=since)
    duration = ExpressionWrapper(F("loop_closed_at") - F("loop_opened_at"), output_field=DurationField())
    result = loops.aggregate(
        opened=Count("pk"),
        closed=Count("pk", filter=Q(loop_closed_at__isnull=False)),
        average=Avg(duration, filter=Q(loop_closed_at__isnull=False)),
    )
    result["still_open"] = result["opened"] - result["closed"]
    average = result["average"]
    result["average_hours"] = round(average.total_seconds() / 3600, 1) if average is not None else None
    return result
