"""Closing the loop on a low survey answer: the worker's half of the answer.

A low answer (a detractor, CSAT 1–2, or a problem the customer flags) is
recorded by the survey POST with its loop *pending* (``loop_pending``: the
reasons, ``loop_pending_at``: since when, feedback/services/answers.py). This job
then opens it, for a batch of answers at a time: it raises the flags, opens
one "close the loop" call for the owner within one business day of the
answer (once per answer: amending never opens a second), mails the owner with
the answer quoted, and tells the webhook subscribers.

Why not in the POST: the survey answer is the endpoint with a throughput
target, and opening the loop there made a low answer far costlier than a high
one (docs/BENCHMARKS.md, "Why some code is as it is"). Set-based, a batch
costs a handful of statements, one mail task and one webhook lookup,
whatever its size.

How soon: the answer's commit queues a run two seconds later
(``loops_kick``; on a shared Redis cache at most one run is queued at a time,
so the answers of those seconds make one batch). The loop opens within a few
seconds; beat runs the job every 30 seconds as well, for a run lost with a
broker outage.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.db import transaction
from django.db.models import Case, Exists, F, OuterRef, Subquery, When
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.formats import date_format

from aftersales.core.queue import task_send
from aftersales.mail.models import OutboxEmail
from aftersales.mail.outbox import outbox_enqueue_many
from aftersales.webhooks.models import WebhookEvent
from aftersales.webhooks.services import webhook_emit_many, webhook_subscribers
from customers.models import FlagReason
from customers.services import FlagRaise, riskflags_raise_many
from feedback.models import SurveyResponse
from touchpoints import scheduling
from touchpoints.careplan import email_subject
from touchpoints.models import Kind, Outcome, Status, TouchPoint
from touchpoints.services import CallBack, close_loop_calls_schedule

logger = logging.getLogger(__name__)

# The Celery task that runs this job (feedback/tasks.py), queued by name.
OPEN_TASK = "feedback.tasks.survey_loops_open_task"

BATCH_SIZE = 200
EXCERPT_LENGTH = 200
# At most one queued run (on a shared cache): the key says one is on its way.
KICK_KEY = "feedback:loops-kick"
RUN_SECONDS = 60  # then a run queues the next and ends (CELERY_TASK_SOFT_TIME_LIMIT is 240 s)
KICK_DELAY_SECONDS = 2  # a run starts this long after the answer that queued it
KICK_TTL_SECONDS = 30  # a run that died without clearing it blocks new kicks this long; beat covers the gap


def pending_reasons(response: SurveyResponse) -> set[str]:
    """The reasons the answer's loop still has to be opened for."""
    return {reason for reason in response.loop_pending.split(",") if reason in FlagReason.values}


def loops_kick() -> None:
    """Queue the loop-opening job, unless a run is already queued; called on commit by a low answer.

    On a per-process cache (one machine, ``make run``) every low answer queues
    a run: the key could not be cleared by the worker's process.
    """
    cache = caches["default"]
    try:
        if isinstance(cache, RedisCache) and not cache.add(KICK_KEY, 1, timeout=KICK_TTL_SECONDS):
            return
    except Exception:  # noqa: BLE001 — cache down: queue the run anyway
        logger.warning("loops: cache unavailable, queueing the run", exc_info=True)
    # A moment later, not at once: the answers of the next seconds join this run's batch.
    task_send(OPEN_TASK, countdown=KICK_DELAY_SECONDS)


def survey_loops_close() -> int:
    """Record when each open loop's call-back was logged; the number of loops closed.

    ``loop_closed_at`` is the call-back touch point's ``completed_at``, so the
    dashboard's call-back time is the rep's, not this job's. Logging the call
    is a write of ``touchpoints``, which does not call up into this app: this
    job finds the answers whose call-back is done (a partial index holds the
    open ones) each time it runs.

    A call-back nobody answered is tried again: touchpoints schedules the next
    try, following it. The loop moves on to that try and stays open, so the
    call-back time runs to the call that reached the customer.
    """
    unanswered = TouchPoint.objects.filter(pk=OuterRef("followup_id"), status=Status.DONE, outcome=Outcome.NO_ANSWER)
    retry = TouchPoint.objects.filter(follows_id=OuterRef("followup_id"), kind=Kind.CLOSE_LOOP).order_by("pk")
    SurveyResponse.objects.filter(followup__isnull=False, loop_closed_at__isnull=True).filter(
        Exists(unanswered), Exists(retry)
    ).update(followup=Subquery(retry.values("pk")[:1]))
    done = TouchPoint.objects.filter(pk=OuterRef("followup_id"), status=Status.DONE)
    return (
        SurveyResponse.objects.filter(followup__isnull=False, loop_closed_at__isnull=True)
        .filter(Exists(done))
        .update(loop_closed_at=Subquery(done.values("completed_at")[:1]))
    )


def survey_loops_open(*, batch_size: int = BATCH_SIZE) -> int:
    """Open the pending loops, a batch per transaction; the number of answers handled.

    The run first clears the kick key: an answer that commits from then on
    queues the next run, and one that committed before is seen by this one.
    A batch short of ``batch_size`` ends the run (what came after it is the
    next run's), so under a steady flow runs stay a few seconds apart with
    full batches, instead of one run chasing each new answer in batches of
    one. Concurrent runs share the work: each batch is claimed with
    ``FOR UPDATE SKIP LOCKED``.
    """
    survey_loops_close()
    try:
        caches["default"].delete(KICK_KEY)
    except Exception:  # noqa: BLE001 — cache down: kicks queue a run each meanwhile (see loops_kick)
        logger.warning("loops: cache unavailable, could not clear the kick key", exc_info=True)
    deadline = time.monotonic() + RUN_SECONDS
    handled = 0
    while True:
        count = _open_batch(batch_size)
        handled += count
        if count < batch_size:
            return handled
        if time.monotonic() > deadline:  # a backlog: hand over to a fresh run, well inside the task's time limit
            task_send(OPEN_TASK)
            return handled


def _open_batch(batch_size: int) -> int:
    with transaction.atomic():
        batch = list(
            SurveyResponse.objects.filter(loop_pending_at__isnull=False)  # the partial index response_loop_pending_idx
            .select_for_update(skip_locked=True, of=("self",))
            .select_related("customer__owner", "followup")
            .order_by("loop_pending_at", "pk")[:batch_size]
        )
        if batch:
            # For the team: in the site's language, whatever language the customer answered in.
            with translation.override(settings.LANGUAGE_CODE):
                _open(batch)
    return len(batch)


def _open(batch: list[SurveyResponse]) -> None:
    work = [(response, pending_reasons(response)) for response in batch]
    work = [(response, reasons) for response, reasons in work if reasons]
    hooks = webhook_subscribers()
    riskflags_raise_many(
        raises=[
            FlagRaise(response.customer, reasons, _detail(response), {"response": response.pk})
            for response, reasons in work
        ],
        hooks=hooks,
    )
    new = [response for response, _ in work if response.followup_id is None]
    followups = close_loop_calls_schedule(
        calls=[
            CallBack(
                customer=response.customer,
                objective=f"Call back about the survey answer ({_scores(response)})" + (_quoted(response) or "."),
                # Within one business day of the answer, on the customer's calendar.
                due_at=scheduling.next_business_day(_answered_at(response), response.customer.timezone),
            )
            for response in new
        ]
    )
    for response, followup in zip(new, followups, strict=True):
        # From the answer, not from this run: the dashboard's call-back time starts there.
        response.followup, response.loop_opened_at = followup, response.loop_pending_at
    _settle(batch, new)
    outbox_enqueue_many([message for response, reasons in work if (message := _owner_alert(response, reasons))])
    webhook_emit_many(
        event=WebhookEvent.DETRACTOR_ANSWERED,
        payloads=lambda: [
            {
                "response": {
                    "id": response.pk,
                    "nps": response.nps,
                    "csat": response.csat,
                    "comment": response.comment,
                    "submitted_at": response.submitted_at,
                },
                "customer": {
                    "id": response.customer.pk,
                    "external_ref": response.customer.external_ref,
                    "name": response.customer.name,
                },
            }
            for response, reasons in work
            if FlagReason.DETRACTOR in reasons
        ],
        hooks=hooks,
    )


def _settle(batch: list[SurveyResponse], opened: list[SurveyResponse]) -> None:
    """One UPDATE: the batch's loops are no longer pending; the ``opened`` ones have their call-back."""
    for response in batch:
        response.loop_pending, response.loop_pending_at = "", None
    changes: dict[str, str | Case | None] = {"loop_pending": "", "loop_pending_at": None}
    if opened:
        changes["followup"] = Case(
            *(When(pk=response.pk, then=response.followup_id) for response in opened),
            default=F("followup"),
            output_field=SurveyResponse._meta.get_field("followup"),
        )
        # The SET list reads the row as it was: loop_pending_at before it is cleared.
        changes["loop_opened_at"] = Case(
            When(pk__in=[response.pk for response in opened], then=F("loop_pending_at")), default=F("loop_opened_at")
        )
    SurveyResponse.objects.filter(pk__in=[response.pk for response in batch]).update(**changes)


def _excerpt(text: str) -> str:
    return " ".join(text.split())[:EXCERPT_LENGTH]


def _quoted(response: SurveyResponse) -> str:
    excerpt = _excerpt(response.comment)
    return f': "{excerpt}"' if excerpt else ""


def _scores(response: SurveyResponse) -> str:
    parts = []
    if response.nps is not None:
        parts.append(f"NPS {response.nps}")
    if response.csat is not None:
        parts.append(f"CSAT {response.csat}")
    if response.problem_reported:
        parts.append("problem reported")
    return ", ".join(parts) or "no scores"


def _answered_at(response: SurveyResponse) -> dt.datetime:
    """When the answer of a pending loop came in: set on every row of a batch (the batch is selected by it)."""
    assert response.loop_pending_at is not None
    return response.loop_pending_at


def _detail(response: SurveyResponse) -> str:
    """The flag's detail: when and what the customer answered."""
    when = _answered_at(response)
    return f"Survey {date_format(when, 'j M Y')}: {_scores(response)}" + _quoted(response)


def _owner_alert(response: SurveyResponse, reasons: set[str]) -> dict[str, Any] | None:
    """The owner's alert (``outbox_enqueue`` arguments): the answer quoted, the call on My day."""
    customer = response.customer
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
    return {
        "to": owner.email,
        "subject": email_subject(f"{', '.join(labels)}: {customer} answered the survey ({_scores(response)})"),
        "body_text": render_to_string("emails/detractor_alert.txt", context),
        "body_html": render_to_string("emails/detractor_alert.html", context),
        "kind": OutboxEmail.Kind.NOTIFICATION,
        "customer": customer,
        # The rep can answer the customer straight from the alert.
        "reply_to": customer.email if re.fullmatch(r"[^\s@]+@[^\s@]+", customer.email or "") else "",
    }
