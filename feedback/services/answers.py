"""Recording a customer's survey answer; a low one leaves its loop pending for the worker (services/loops.py).

The answer arrives by POST on the public survey page. One invitation has at
most one answer: the first POST creates it, later POSTs (until the invitation
expires) amend the same row. Concurrent POSTs on one token — a double click,
a retrying proxy, two tabs — are serialised on the invitation's row lock
(``SELECT … FOR UPDATE``) on PostgreSQL; on SQLite writers are serialised
anyway, and the OneToOne unique constraint is the last line either way.

A low answer (a detractor, CSAT 1–2, or a problem the customer flags) is
stored with its loop pending, in the same INSERT or UPDATE; the worker opens
it within seconds (feedback/services/loops.py: the flag, the owner's call within one
business day, the owner's mail). Amending never opens a second call: the
response remembers its follow-up.

The answer POST is the public endpoint with a throughput target, so its
common case — a first answer, low or not — costs four statements in one
transaction, written by hand where the ORM cost more to build them than the
database to run them (docs/BENCHMARKS.md, "Why some code is as it is"): the
locking read, the answer's INSERT, and the invitation's and the customer's
UPDATEs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from aftersales.core.fields import field_max_length
from customers.models import Customer, FlagReason, quiet_after
from customers.services import customer_contact_move
from feedback.models import BuyAgain, SurveyInvitation, SurveyResponse, hash_token
from feedback.scores import is_detractor, is_low_csat, is_promoter
from feedback.services.loops import loops_kick, pending_reasons

COMMENT_MAX_LENGTH = field_max_length(SurveyResponse, "comment")


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
        reasons: set[str] = set()
        if is_detractor(self.nps):
            reasons.add(FlagReason.DETRACTOR)
        if is_low_csat(self.csat):
            reasons.add(FlagReason.LOW_CSAT)
        if self.problem_reported:
            reasons.add(FlagReason.PROBLEM_REPORTED)
        return reasons

    @classmethod
    def of(cls, response: SurveyResponse) -> Answer:
        return cls(response.nps, response.csat, response.would_buy_again, response.comment, response.problem_reported)


def invitation_for_token(token: str) -> SurveyInvitation | None:
    """The invitation a clear token opens while it is answerable; None for unknown, tampered or expired."""
    if not _plausible(token):
        return None
    return (
        SurveyInvitation.objects.for_token(token)
        .filter(expires_at__gt=timezone.now())
        .select_related("customer__owner", "survey")
        .first()
    )


def _plausible(token: str) -> bool:
    return bool(token) and len(token) <= 100


@dataclass(frozen=True)
class Questions:
    """Which questions a survey asks: what ``SurveyForm`` reads from a ``Survey``."""

    asks_nps: bool
    asks_csat: bool
    asks_buy_again: bool
    asks_comment: bool


@dataclass(frozen=True)
class AnswerTarget:
    """An answerable invitation, as the answer POST needs it (read by ``answer_target``)."""

    pk: int
    customer_id: int
    survey: Questions
    answered: bool  # an answer exists (to amend): the first answer sets responded_at
    quiet_days: int | None  # the customer's shortest quiet threshold (customers.models.quiet_after)
    gone_quiet_open: bool  # whether the customer has an open gone-quiet flag to resolve


# Everything the answer POST needs, in the one query that locks the invitation. Plain SQL
# on the tables the models define (tests run it on PostgreSQL and SQLite): the ORM took
# longer to build this query than PostgreSQL took to run it (docs/BENCHMARKS.md).
_TARGET_SQL = """
SELECT i.id, i.customer_id,
       s.asks_nps, s.asks_csat, s.asks_buy_again, s.asks_comment,
       i.responded_at IS NOT NULL,
       -- Customer.quiet_after_from: the shortest quiet threshold of what they bought
       (SELECT MIN(pr.quiet_threshold_days) FROM customers_purchase pu
          JOIN customers_product pr ON pr.id = pu.product_id
         WHERE pu.customer_id = i.customer_id),
       EXISTS (SELECT 1 FROM customers_riskflag f
                WHERE f.customer_id = i.customer_id AND f.reason = %s AND f.resolved_at IS NULL)
  FROM feedback_surveyinvitation i
  JOIN feedback_survey s ON s.id = i.survey_id
 WHERE i.expires_at > %s AND """
_BY_HASH = "i.token_hash = %s"
_BY_PK = "i.id = %s"
# Only the invitation's row: a plain FOR UPDATE would also lock the survey's row and
# queue every answer to that survey behind each other. SQLite has no row locks; its
# IMMEDIATE transactions (settings) already serialise writers.
_LOCK = " FOR UPDATE OF i"


def answer_target(*, token: str = "", pk: int | None = None) -> AnswerTarget | None:
    """The answerable invitation for a clear ``token`` (or a ``pk``); None for unknown, tampered or expired.

    Takes the invitation's row lock: call it inside the transaction that records the answer.
    """
    if pk is None and not _plausible(token):
        return None
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    sql = _TARGET_SQL + (_BY_PK if pk is not None else _BY_HASH)
    if connection.features.has_select_for_update_of:
        sql += _LOCK
    with connection.cursor() as cursor:
        cursor.execute(sql, [FlagReason.GONE_QUIET, now, pk if pk is not None else hash_token(token)])
        row = cursor.fetchone()
    if row is None:
        return None
    pk, customer_id, *asks, answered, quiet_days, gone_quiet_open = row
    return AnswerTarget(
        pk=pk,
        customer_id=customer_id,
        survey=Questions(*(bool(value) for value in asks)),
        answered=bool(answered),
        quiet_days=quiet_days,
        gone_quiet_open=bool(gone_quiet_open),
    )


@transaction.atomic
def survey_response_record(*, invitation: SurveyInvitation | AnswerTarget, answer: Answer) -> SurveyResponse:
    """Record (or amend) the answer to an invitation; a low one leaves its loop pending for the worker (loops.py).

    Raises ValidationError for an expired invitation or an invalid answer,
    having written nothing.
    """
    # The lock: concurrent POSTs for this invitation queue here, so each sees
    # the answer the previous one left and amends it instead of adding one.
    target = answer_target(pk=invitation.pk)
    if target is None:
        raise ValidationError("This survey has expired.", code="expired")
    return survey_response_store(target=target, answer=answer)


def survey_response_store(*, target: AnswerTarget, answer: Answer) -> SurveyResponse:
    """``survey_response_record`` for a caller holding the lock: ``answer_target``
    read in the transaction still open around this call (the survey page's POST: one read, not two).
    """
    if not transaction.get_connection().in_atomic_block:
        raise transaction.TransactionManagementError("survey_response_store needs the transaction holding the lock.")
    errors = answer.errors()
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    fields: dict[str, Any] = {
        "nps": answer.nps,
        "csat": answer.csat,
        "would_buy_again": answer.would_buy_again,
        "comment": answer.comment,
        "problem_reported": answer.problem_reported,
    }
    # Read from the locked row itself: a POST that waited for the lock sees the
    # answer the previous one committed (PostgreSQL re-reads a row it waited for,
    # but not the other tables of the query, so this is not a join on the answers).
    # The answer's own row is locked too: the loop-opening job may be clearing its
    # pending loop right now, and this must read what it left.
    response = (
        SurveyResponse.objects.select_for_update().filter(invitation_id=target.pk).first() if target.answered else None
    )
    pending = _pending(response, answer)
    fields["loop_pending"] = ",".join(sorted(pending))
    fields["loop_pending_at"] = ((response and response.loop_pending_at) or now) if pending else None
    if response is None:
        response = _response_insert(target=target, fields=fields, now=now)
    else:  # an amendment
        for name, value in fields.items():
            setattr(response, name, value)
        response.save(update_fields=[*fields, "updated_at"])
    # An answered survey is two-way contact (it moves the quiet clock).
    customer_contact_move(
        customer_id=target.customer_id,
        at=now,
        quiet_after=quiet_after(now, target.quiet_days),
        by=None,
        gone_quiet_open=target.gone_quiet_open,
    )
    if pending:
        transaction.on_commit(loops_kick, robust=True)  # robust: a broker outage loses no answer; beat catches up
    return response


def _pending(previous: SurveyResponse | None, answer: Answer) -> set[str]:
    """What the loop has to act on after ``answer``: what it adds to the ``previous`` answer,
    and what that one left pending (the job has not run yet), unless the customer took it back."""
    low = answer.loop_reasons()
    if previous is None:
        return low
    return (pending_reasons(previous) | (low - Answer.of(previous).loop_reasons())) & low


# The first answer's two writes, by hand for the same reason as _TARGET_SQL (docs/BENCHMARKS.md).
# tests/aftersales/test_sql_drift.py fails when the model gains a column this INSERT must fill.
RESPONSE_INSERT_SQL = """
INSERT INTO feedback_surveyresponse
       (invitation_id, customer_id, nps, csat, would_buy_again, comment, problem_reported, loop_pending,
        loop_pending_at, submitted_at, updated_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
RETURNING id"""
INVITATION_RESPONDED_SQL = (
    "UPDATE feedback_surveyinvitation SET responded_at = %s WHERE id = %s AND responded_at IS NULL"
)


def _response_insert(*, target: AnswerTarget, fields: dict[str, Any], now: dt.datetime) -> SurveyResponse:
    """Insert the first answer to the locked invitation, mark the invitation answered; the new response."""
    at = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        cursor.execute(
            RESPONSE_INSERT_SQL,
            [
                target.pk,
                target.customer_id,
                fields["nps"],
                fields["csat"],
                fields["would_buy_again"],
                fields["comment"],
                fields["problem_reported"],
                fields["loop_pending"],
                connection.ops.adapt_datetimefield_value(fields["loop_pending_at"]),
                at,
                at,
            ],
        )
        (pk,) = cursor.fetchone()
        cursor.execute(INVITATION_RESPONDED_SQL, [at, target.pk])
    response = SurveyResponse(
        id=pk, invitation_id=target.pk, customer_id=target.customer_id, submitted_at=now, updated_at=now, **fields
    )
    response._state.adding, response._state.db = False, connection.alias  # as if loaded from the database
    return response


def review_url(response: SurveyResponse) -> str:
    """Where a promoter is invited to leave a review; empty when not configured or not a promoter."""
    url = settings.AFTERSALES.get("REVIEW_URL", "")
    return url if url and is_promoter(response.nps) else ""


def answers_erase_customer(*, customer: Customer) -> None:
    """Erasure (GDPR): comments go; a low answer whose loop the worker has not opened yet opens nothing now."""
    SurveyResponse.objects.filter(customer=customer).update(comment="", loop_pending="", loop_pending_at=None)
