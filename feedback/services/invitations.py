"""Survey invitations: sending them, reminding once, and (re-exported) planning them.

Life of an invitation:

1. **Planned** — a row with ``send_at`` (its due time) and no usable token;
   see feedback/services/planning.py for the three rules.
2. **Sent** — :func:`invitations_send` sweeps due rows on the partial index
   ``invitation_send_sweep_idx``. Each row is claimed with one conditional
   UPDATE (``sent_at IS NULL`` → now) that also writes the hash of a fresh
   token; the mail with the clear token is written to the outbox in the same
   transaction. Two sweeps racing on a row: one UPDATE wins, the other
   changes 0 rows and sends nothing. A crash before commit leaves the row
   unsent and no mail queued.
3. **Reminded** once, ``SURVEY_REMINDER_DAYS`` after sending, if unanswered;
   claimed the same way on ``reminded_at``.
4. **Expired** — ``expires_at`` (sent + 28 days) is a column the survey page
   and the reminder query compare with now; nothing needs flipping.

The throttle (one survey per customer per ``SURVEY_THROTTLE_DAYS``), the
opt-out and a missing email address are checked when a row is planned and
again, under a lock on the customer row, when it is claimed: between the two
the customer may have unsubscribed or been surveyed by another rule. A row
that can no longer go out is deleted before sending: it never had a token,
nobody saw it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from aftersales.mail.models import OutboxEmail
from aftersales.mail.suppression import email_suppressed
from customers.models import Customer
from feedback.models import SurveyInvitation, hash_token, new_token
from feedback.services.planning import (
    BATCH_SIZE,
    MAX_PER_RUN,
    days_setting,
    emailable,
    invitation_schedule_after_checkup,
    invitations_plan,
)
from feedback.survey_email import survey_email_enqueue, survey_url, tokens_in

__all__ = [
    "invitation_remind",
    "invitation_schedule_after_checkup",
    "invitation_send",
    "invitations_discard_unsendable",
    "invitations_plan",
    "invitations_remind",
    "invitations_send",
    "survey_url",
]

logger = logging.getLogger(__name__)


def _sent_sibling_since(moment: dt.datetime) -> Exists:
    """Another invitation of the same customer actually sent since ``moment`` (the throttle at send time)."""
    return Exists(
        SurveyInvitation.objects.filter(customer_id=OuterRef("customer_id"), sent_at__gte=moment).exclude(
            pk=OuterRef("pk")
        )
    )


# --- Sending ----------------------------------------------------------------------------------


def _due(now: dt.datetime) -> QuerySet[SurveyInvitation]:
    # Served by the partial index invitation_send_sweep_idx (send_at WHERE sent_at IS NULL).
    return SurveyInvitation.objects.filter(sent_at__isnull=True, send_at__lte=now)


def _sendable(now: dt.datetime) -> QuerySet[SurveyInvitation]:
    """Due, not stale, to a customer we may mail, and no other survey sent to them within the throttle window."""
    return (
        _due(now)
        .filter(send_at__gte=now - days_setting("SURVEY_CATCH_UP_DAYS"))
        .filter(emailable("customer__"))
        .exclude(_sent_sibling_since(now - days_setting("SURVEY_THROTTLE_DAYS")))
    )


def invitations_discard_unsendable(*, now: dt.datetime | None = None) -> int:
    """Delete due, never-sent invitations that can no longer go out; return how many.

    Set-based: one SELECT of ids on the send index, one DELETE by id.

    Stale ones (the jobs were stopped longer than the catch-up window),
    customers who unsubscribed or lost their address meanwhile, and those
    another survey reached first within the throttle window.
    """
    now = now or timezone.now()
    unsendable = _due(now).filter(
        Q(send_at__lt=now - days_setting("SURVEY_CATCH_UP_DAYS"))
        | ~emailable("customer__")
        | _sent_sibling_since(now - days_setting("SURVEY_THROTTLE_DAYS"))
    )
    # Deleted by primary key: SQLite refuses a DELETE whose WHERE reads the same table.
    ids = list(unsendable.values_list("pk", flat=True)[:MAX_PER_RUN])
    deleted, _detail = SurveyInvitation.objects.filter(pk__in=ids, sent_at__isnull=True).delete()
    return deleted


@transaction.atomic
def invitation_send(*, invitation_id: int) -> bool:
    """Claim one due invitation, give it a token, queue its email; True when this call sent it."""
    now = timezone.now()
    customer_id = SurveyInvitation.objects.filter(pk=invitation_id).values_list("customer_id", flat=True).first()
    if customer_id is None:
        return False
    # Serialise the sends of one customer: two due invitations claimed at once
    # would each see no *sent* sibling and both go out. With the row lock, the
    # second claim waits, then its throttle subquery sees the first one.
    customer = Customer.objects.select_for_update().select_related("owner").get(pk=customer_id)
    if email_suppressed(customer.email):
        # An erased customer's address, now on another customer: the bulk planners work in SQL and
        # cannot hash it, so the check is here. The invitation is dropped, never sent.
        SurveyInvitation.objects.filter(pk=invitation_id, sent_at__isnull=True).delete()
        return False
    invitation = SurveyInvitation.objects.select_related("survey").get(pk=invitation_id)
    token = invitation.set_token()
    invitation.sent_at = now
    invitation.expires_at = now + days_setting("SURVEY_EXPIRES_DAYS")
    invitation.language = customer.language
    claimed = (
        _sendable(now)
        .filter(pk=invitation_id)
        .update(
            sent_at=invitation.sent_at,
            token_hash=invitation.token_hash,
            expires_at=invitation.expires_at,
            language=invitation.language,
        )
    )
    if claimed != 1:
        return False
    invitation.customer = customer
    survey_email_enqueue(invitation=invitation, token=token)
    return True


def _batches(queryset: QuerySet[SurveyInvitation], order: str, batch_size: int) -> Iterator[list[int]]:
    """Primary keys in (``order``, pk) keyset batches, at most MAX_PER_RUN in all.

    A row left untouched (its claim lost to another worker) is not read again
    by this run, so a run always ends.
    """
    handled = 0
    after = None
    queryset = queryset.order_by(order, "pk")
    while handled < MAX_PER_RUN:
        page = queryset
        if after is not None:
            page = page.filter(Q(**{f"{order}__gt": after[0]}) | Q(**{order: after[0], "pk__gt": after[1]}))
        rows = list(page.values_list(order, "pk")[:batch_size])
        if not rows:
            return
        after = rows[-1]
        handled += len(rows)
        yield [pk for _key, pk in rows]


def invitations_send(*, batch_size: int = BATCH_SIZE) -> int:
    """Send due invitations in batches on the send index; return how many went out."""
    now = timezone.now()
    invitations_discard_unsendable(now=now)
    return sum(
        invitation_send(invitation_id=pk) for batch in _batches(_due(now), "send_at", batch_size) for pk in batch
    )


# --- Reminding --------------------------------------------------------------------------------


def _remindable(now: dt.datetime) -> QuerySet[SurveyInvitation]:
    # Served by the partial index invitation_remind_sweep_idx (sent, unanswered, not reminded).
    return SurveyInvitation.objects.filter(
        sent_at__isnull=False,
        responded_at__isnull=True,
        reminded_at__isnull=True,
        sent_at__lte=now - days_setting("SURVEY_REMINDER_DAYS"),
        expires_at__gt=now,
    ).filter(emailable("customer__"))


def _sent_token(invitation: SurveyInvitation) -> str | None:
    """The clear token, read back from the invitation mail in the outbox (the only place it exists).

    The reminder must carry the links the customer already has: a new token
    would leave the first mail's links dead. The invitation keeps only the
    hash, so the token is taken from the mail that carried it — the one whose
    token hashes to this row's ``token_hash`` (a hash names one invitation).
    """
    mails = OutboxEmail.objects.filter(
        customer_id=invitation.customer_id, kind=OutboxEmail.Kind.SURVEY, created_at__gte=invitation.sent_at
    ).order_by("pk")
    for body in mails.values_list("body_text", flat=True)[:5]:
        for token in tokens_in(body):
            if hash_token(token) == invitation.token_hash:
                return token
    return None


@transaction.atomic
def invitation_remind(*, invitation_id: int) -> bool:
    """Claim one unanswered invitation for its single reminder and queue it; True when this call reminded."""
    now = timezone.now()
    claimed = _remindable(now).filter(pk=invitation_id).update(reminded_at=now)
    if claimed != 1:
        return False
    invitation = SurveyInvitation.objects.select_related("customer__owner", "survey").get(pk=invitation_id)
    token = _sent_token(invitation)
    if token is None:
        # The invitation mail is gone from the outbox: the reminder cannot
        # carry working links. The claim stays, so it is never retried.
        logger.warning("survey: no reminder for invitation %s, its mail is no longer in the outbox", invitation_id)
        return False
    survey_email_enqueue(invitation=invitation, token=token, reminder=True)
    return True


def invitations_remind(*, batch_size: int = BATCH_SIZE) -> int:
    """Remind non-responders once, in batches on the reminder index; return how many reminders were queued."""
    now = timezone.now()
    return sum(
        invitation_remind(invitation_id=pk)
        for batch in _batches(_remindable(now), "sent_at", batch_size)
        for pk in batch
    )


def invitations_erase_customer(*, customer: Customer, now: dt.datetime) -> None:
    """Erasure (GDPR): no invitation link of theirs opens anything; planned ones go, the rest expire."""
    SurveyInvitation.objects.filter(customer=customer, sent_at__isnull=True).delete()
    SurveyInvitation.objects.filter(
        customer=customer, responded_at__isnull=True, expires_at__gt=now, send_at__lt=now
    ).update(expires_at=now)
    for pk in SurveyInvitation.objects.filter(customer=customer).values_list("pk", flat=True):
        # One UPDATE each (a customer has a handful): the column is unique, so each needs its own random hash.
        SurveyInvitation.objects.filter(pk=pk).update(token_hash=hash_token(new_token()))
