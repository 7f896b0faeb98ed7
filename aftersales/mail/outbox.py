"""The email outbox: every email is a row first, delivered afterwards.

Writers call :func:`outbox_enqueue` inside the transaction that caused the
mail, so the email exists exactly when the change does. Delivery happens
outside that transaction, in a Celery task queued with ``on_commit`` and, as
a safety net for lost tasks and failed attempts, in the periodic sweep.

Races, and why they are harmless:

* A row can be delivered by its task, by the sweep, or by both at once. Each
  path first *claims* the row with one conditional UPDATE (pending, due, not
  leased); the database lets exactly one claimant change it, and only that
  one sends. The loser sees 0 rows updated and returns. The claim, the
  backoff and giving up are aftersales/core/leasing.py's, shared with the
  webhooks and the imports.
* The claim is a lease, not a lock: a worker that dies mid-send leaves the
  row pending with ``leased_until`` in the past once the lease runs out, and
  the sweep sends it again later. That resend carries the same Message-ID,
  so receivers can tell it is the same mail. The lease must therefore be
  longer than any send can take (``OUTBOX_LEASE_SECONDS`` > EMAIL_TIMEOUT).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Model
from django.db.models.functions import Lower
from django.utils import timezone

from aftersales.core.erasure import ERASED_TEXT
from aftersales.core.queue import task_send
from aftersales.mail.models import MailboxMessage, OutboxEmail
from aftersales.mail.suppression import email_suppressed, emails_suppressed

logger = logging.getLogger(__name__)

# The Celery tasks that wrap this module's jobs (aftersales/mail/tasks.py), queued by name.
DELIVER_TASK = "aftersales.tasks.outbox_deliver_task"
SWEEP_TASK = "aftersales.tasks.outbox_sweep_task"

# Stop a sweep batch after this many failures in a row: the mail server is
# probably down, and every further attempt would only burn an attempt and a
# timeout. Unclaimed rows stay untouched for the next sweep.
SWEEP_MAX_CONSECUTIVE_FAILURES = 3
# Outcomes of one delivery attempt.
SENT, SKIPPED, FAILED = "sent", "skipped", "failed"
SUPPRESSED_ERROR = "Suppressed: this address belonged to an erased customer and is never mailed again."


def outbox_enqueue(
    *,
    to: str,
    subject: str,
    body_text: str,
    body_html: str = "",
    kind: str,
    customer: Any = None,
    headers: dict[str, str] | None = None,
    from_email: str | None = None,
    reply_to: str = "",
    send_after: datetime | None = None,
    message_id: str | None = None,
) -> OutboxEmail:
    """Write an email to the outbox and queue its delivery once the caller's transaction commits.

    ``message_id`` (``<...@...>``) makes the email idempotent: the column is
    unique, so a second enqueue with the same id raises ``IntegrityError``.
    Jobs that send "once per day" use it as their record of having sent.

    A recipient on the suppression list (an erased customer's address,
    aftersales/audit/services.py) gets nothing: the row is written already failed, with
    the reason, so the caller's flow is unchanged and the timeline shows why.

    If the transaction rolls back, the row disappears and nothing is queued.
    Mail scheduled for later (``send_after`` in the future) is not queued at
    all: the sweep picks it up when it is due, which avoids Celery ETA tasks
    (held in worker memory, redelivered by Redis after the visibility timeout).
    """
    email = _row(
        to=to,
        subject=subject,
        body_text=body_text,
        body_html=body_html,
        kind=kind,
        customer=customer,
        headers=headers,
        from_email=from_email,
        reply_to=reply_to,
        send_after=send_after,
        message_id=message_id,
        suppressed=email_suppressed(to),
    )
    email.save(force_insert=True)
    if _due_now(email):
        # robust=True: if the broker is down at commit time, the change that
        # caused the mail must still succeed; the row is committed and the
        # sweep delivers it later.
        transaction.on_commit(lambda: _queue_delivery(email.pk), robust=True)
    return email


def outbox_enqueue_many(messages: list[dict[str, Any]]) -> list[OutboxEmail]:
    """``outbox_enqueue`` for a batch (a job mailing many owners): ``messages`` are its keyword arguments.

    One suppression lookup and one INSERT; after commit, one sweep task
    delivers the batch over one mail connection instead of a task per email.
    """
    if not messages:
        return []
    suppressed = emails_suppressed(message["to"] for message in messages)
    emails = OutboxEmail.objects.bulk_create(
        [_row(**message, suppressed=message["to"] in suppressed) for message in messages]
    )
    if any(_due_now(email) for email in emails):
        transaction.on_commit(_queue_sweep, robust=True)
    return emails


def _row(
    *,
    suppressed: bool,
    headers: dict[str, str] | None = None,
    from_email: str | None = None,
    send_after: datetime | None = None,
    message_id: str | None = None,
    **fields: Any,
) -> OutboxEmail:
    """The outbox row for ``outbox_enqueue``'s arguments (``fields``: to, subject, bodies, kind, customer, reply_to)."""
    return OutboxEmail(
        **fields,
        headers={str(key): str(value) for key, value in (headers or {}).items()},
        from_email=from_email or "",
        send_after=send_after or timezone.now(),
        **({"message_id": message_id} if message_id else {}),
        **({"failed_at": timezone.now(), "last_error": SUPPRESSED_ERROR} if suppressed else {}),
    )


def _due_now(email: OutboxEmail) -> bool:
    return email.failed_at is None and email.send_after <= timezone.now()


def _queue_sweep() -> None:
    task_send(SWEEP_TASK)


def _queue_delivery(email_id: int) -> None:
    task_send(DELIVER_TASK, args=[email_id])


def outbox_erase_customer(*, customer_id: int, address: str) -> None:
    """Erasure (GDPR): pending mail to the customer is withdrawn; sent mail keeps only its kind and dates."""
    # A row a worker holds right now (live lease) may already be on its way; it is scrubbed below instead.
    OutboxEmail.objects.pending().filter(customer_id=customer_id).exclude(leased_until__gte=timezone.now()).delete()
    mail = OutboxEmail.objects.filter(customer_id=customer_id)
    if address:
        mail.annotate(to_lower=Lower("to")).filter(to_lower=address).update(to="")
    mail.update(subject=ERASED_TEXT, body_text="", body_html="", headers={}, reply_to="")
    if address:
        # The dev mailbox's copies (only filled when no SMTP server is configured).
        MailboxMessage.objects.filter(to__icontains=address).delete()


def outbox_move_customer(*, from_customer: Model, to_customer: Model) -> int:
    """A merge (aftersales/customer_pages/merge.py): the duplicate's mail, sent or pending, is the survivor's.

    Pending rows go out as written, to the address they were written to: the
    customer was told something, and a merge does not change what.
    """
    return OutboxEmail.objects.filter(customer_id=from_customer.pk).update(customer_id=to_customer.pk)


def outbox_deliver(*, email_id: int, connection: BaseEmailBackend | None = None) -> bool:
    """Claim one email, send it, record the outcome. True when this call sent it.

    False when the row is not deliverable (already sent, failed, not yet due,
    leased by another worker) or when sending failed (the error, the next
    attempt time or the final failure is recorded on the row).
    """
    return _deliver(email_id, connection) == SENT


def _lease_until(now: datetime) -> datetime:
    return now + timedelta(seconds=settings.AFTERSALES["OUTBOX_LEASE_SECONDS"])


def _deliver(email_id: int, connection: BaseEmailBackend | None) -> str:
    now = timezone.now()
    lease_until = _lease_until(now)
    # The claim: a single conditional UPDATE. Two workers racing on the same
    # row both run it; the database serialises them and the second one's
    # WHERE no longer matches (the lease is live), so it updates 0 rows.
    if not OutboxEmail.objects.claim(email_id, lease_until=lease_until, at=now):
        return SKIPPED
    return _send_claimed(OutboxEmail.objects.get(pk=email_id), connection, lease_until)


def _send_claimed(email: OutboxEmail, connection: BaseEmailBackend | None, lease_until: datetime) -> str:
    """Send an email this process holds the lease on, and record the outcome on its row."""
    try:
        sent = _build_message(email, connection).send(fail_silently=False)
        if sent != 1:
            raise RuntimeError("the email backend accepted no message")
    except SoftTimeLimitExceeded:
        # The task ran out of time mid-send: whether the mail left is
        # unknown. Keep the lease, as a crash would; the sweep resends after
        # it expires, with the same Message-ID.
        raise
    except Exception as exc:  # any failure of the mail stack is recorded and retried
        _record_failure(email, exc, lease_until)
        return FAILED
    _record_sent(email.pk)
    return SENT


def _record_sent(email_id: int) -> None:
    """Mark the row sent, in its own short transaction, right after the server accepted the mail.

    Record the send even if our lease ran out meanwhile and another worker
    re-claimed (or gave up on) the row: the mail is gone, and a row marked
    sent is never claimed again.

    On PostgreSQL the commit is asynchronous (``synchronous_commit = off``
    for this transaction only): it does not wait for the WAL flush, which is
    what limits a sweep to a few dozen mails per second on an ordinary disk.
    A killed *worker* loses nothing by it (the commit is in the server); a
    crashed *database server* may forget the last fraction of a second of
    these marks, and those emails are sent again, with the same Message-ID.
    """
    with transaction.atomic():
        if db_connection.vendor == "postgresql":
            with db_connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit = off")
        OutboxEmail.objects.record_done(email_id)


def _build_message(email: OutboxEmail, connection: BaseEmailBackend | None) -> EmailMultiAlternatives:
    headers = {**email.headers, "Message-ID": email.message_id}
    message = EmailMultiAlternatives(
        subject=email.subject,
        body=email.body_text,
        from_email=email.from_email or settings.DEFAULT_FROM_EMAIL,
        to=[email.to],
        reply_to=[email.reply_to] if email.reply_to else None,
        headers=headers,
        connection=connection,
    )
    if email.body_html:
        message.attach_alternative(email.body_html, "text/html")
    return message


def _record_failure(email: OutboxEmail, exc: Exception, lease_until: datetime) -> None:
    """Schedule the next attempt with exponential backoff, or give up after the last one."""
    error = f"{type(exc).__name__}: {exc}"
    # Only while our claim still holds: if the lease expired and another
    # worker re-claimed the row, its outcome wins over our stale one.
    gave_up = OutboxEmail.objects.record_failure(
        email.pk,
        attempts=email.attempts,
        error=error,
        lease_until=lease_until,
        max_attempts=settings.AFTERSALES["OUTBOX_MAX_ATTEMPTS"],
    )
    if gave_up:
        logger.error("outbox: giving up on email %s after %s attempts: %s", email.pk, email.attempts, error)
    else:
        logger.warning("outbox: email %s attempt %s failed: %s", email.pk, email.attempts, error)


def outbox_sweep(*, batch_size: int = 500) -> int:
    """Deliver up to ``batch_size`` due emails through one mail connection; return how many were sent.

    Catches what the per-email tasks missed: tasks lost with a broker,
    retries whose backoff has passed, rows whose worker died mid-lease, and
    mail scheduled for later. It delivers in-process rather than queueing a
    task per row, so one SMTP connection serves the whole batch and the
    management command works without any worker running.

    The whole batch is claimed at once: its ids are read ``FOR UPDATE SKIP
    LOCKED`` (PostgreSQL; on SQLite the IMMEDIATE transaction makes the
    read-then-update atomic) and leased in one UPDATE, so overlapping sweeps
    and per-email tasks never hold the same row. A sweep killed mid-batch
    leaves its unsent rows leased; they are sent after the lease expires,
    and only the one in flight at the kill can arrive twice. A batch that
    runs long gives back its unsent rows before the lease could expire.
    """
    connection = get_connection()
    # Open first, so nothing is claimed while the mail server is down; open
    # once, so the backend keeps the connection across the batch.
    if not _open(connection):
        connection.close()
        return 0
    started = time.monotonic()
    lease_seconds = settings.AFTERSALES["OUTBOX_LEASE_SECONDS"]
    sent = failures = 0
    emails: list[OutboxEmail] = []
    try:
        emails, lease_until = _claim_batch(batch_size)
        while emails:
            if time.monotonic() - started > lease_seconds / 2:
                logger.info("outbox: sweep batch ran long; leaving %s emails to the next sweep", len(emails))
                break
            result = _send_claimed(emails.pop(0), connection, lease_until)
            if result == SENT:
                sent += 1
                failures = 0
            elif result == FAILED:
                # The connection may be broken: start the next email on a
                # fresh one, or stop when the server keeps failing.
                failures += 1
                connection.close()
                if failures >= SWEEP_MAX_CONSECUTIVE_FAILURES or not _open(connection):
                    logger.warning("outbox: sweep stopped after %s failed emails", failures)
                    break
        _release(emails, lease_until)
    finally:
        connection.close()
    return sent


def _claim_batch(batch_size: int) -> tuple[list[OutboxEmail], datetime]:
    now = timezone.now()
    lease_until = _lease_until(now)
    # Served by the partial index outbox_pending_idx.
    emails = OutboxEmail.objects.claim_batch(batch_size, lease_until=lease_until, at=now, order_by=("send_after", "pk"))
    return emails, lease_until


def _release(emails: list[OutboxEmail], lease_until: datetime) -> None:
    """Give back claimed rows this sweep did not try to send: no attempt is counted, no lease kept."""
    OutboxEmail.objects.release([email.pk for email in emails], lease_until=lease_until)


def _open(connection: BaseEmailBackend) -> bool:
    try:
        connection.open()
    except Exception as exc:  # e.g. SMTP server down: nothing was claimed, the next sweep retries
        logger.warning("outbox: cannot open a mail connection: %s", exc)
        return False
    return True
