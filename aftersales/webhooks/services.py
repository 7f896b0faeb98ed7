"""Outbound webhooks: signed event POSTs, delivered like the email outbox.

A service that changes something calls :func:`webhook_emit` inside its own
transaction; one :class:`WebhookDelivery` row per subscribed endpoint is
written with the change, so an event exists exactly when the change does.
Delivery runs after commit (a task queued with ``on_commit``) and in the
periodic sweep, with the outbox's claim-then-act rules:

* a single conditional UPDATE claims a row (pending, due, not leased); only
  the claimant POSTs, so a task and the sweep racing on a row send it once;
* the claim is a lease: a worker dying mid-POST leaves the row to be sent
  again after the lease, with the same ``Aftersales-Delivery`` id, so the
  receiver can tell a resend from a new event;
* a failure (network error, non-2xx) schedules the next attempt with
  exponential backoff, until ``WEBHOOK_MAX_ATTEMPTS``.

The claim, the backoff and giving up are aftersales/core/leasing.py's, shared
with the outbox and the imports.

Signature: ``Aftersales-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of
"<t>.<body>" with the endpoint's secret>`` — see docs/API.md for a receiver.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from aftersales.core.queue import task_send
from aftersales.core.roles import Actor
from aftersales.webhooks.models import Webhook, WebhookDelivery, WebhookEvent

logger = logging.getLogger(__name__)

# The Celery task that POSTs one delivery (aftersales/webhooks/tasks.py), queued by name.
DELIVER_TASK = "aftersales.tasks.webhook_deliver_task"
SWEEP_TASK = "aftersales.tasks.webhook_sweep_task"

SIGNATURE_HEADER = "Aftersales-Signature"
# A receiver's answer is logged, not stored whole.
RESPONSE_EXCERPT = 500
SENT, SKIPPED, FAILED = "sent", "skipped", "failed"


# --- Signing ------------------------------------------------------------------------------


def webhook_sign(*, secret: str, body: bytes, timestamp: int) -> str:
    """The signature header value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def webhook_verify(*, secret: str, body: bytes, header: str, tolerance: int = 300, now: float | None = None) -> bool:
    """True when ``header`` signs ``body`` with ``secret`` and is at most ``tolerance`` seconds old.

    The same check a receiver does (docs/API.md); used by the tests.
    """
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((now if now is not None else time.time()) - timestamp) > tolerance:
        return False
    expected = webhook_sign(secret=secret, body=body, timestamp=timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


# --- Where we may POST ------------------------------------------------------------------------


def webhook_url_errors(url: str) -> str | None:
    """Why ``url`` may not receive webhooks, or None.

    Private, loopback, link-local and reserved addresses are refused (the
    app must not become a way to probe the internal network) unless
    AFTERSALES["WEBHOOKS_ALLOW_PRIVATE"]. Checked when registering and again
    before every POST, since DNS answers change.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "Use an http:// or https:// URL with a host name."
    if settings.AFTERSALES["WEBHOOKS_ALLOW_PRIVATE"]:
        return None
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    except (socket.gaierror, UnicodeError):
        return f"The host {parts.hostname!r} cannot be resolved."
    for info in infos:
        host = str(info[4][0])  # an IPv4 or IPv6 address (the families getaddrinfo answers for a host name)
        address = ipaddress.ip_address(host.split("%", 1)[0])
        if not address.is_global or address.is_multicast:
            return f"{parts.hostname} resolves to {address}, a private or loopback address: refused."
    return None


@transaction.atomic
def webhook_register(*, url: str, events: list[str], by: Actor, description: str = "") -> Webhook:
    """Register an endpoint for some events; raises ValidationError naming the field at fault."""
    errors: dict[str, str] = {}
    problem = webhook_url_errors(url)
    if problem:
        errors["url"] = problem
    unknown = sorted(set(events) - set(WebhookEvent.values))
    if not events or unknown:
        errors["events"] = "Choose at least one event" + (f"; unknown: {', '.join(unknown)}" if unknown else ".")
    if errors:
        raise ValidationError(errors)
    return Webhook.objects.create(url=url, events=sorted(set(events)), description=description, created_by=by)


# --- Emitting ---------------------------------------------------------------------------------


def webhook_subscribers() -> list[Webhook]:
    """The active endpoints: read once by a change that emits several events (``hooks=`` below)."""
    return list(Webhook.objects.filter(active=True))


def _listening(event: str, hooks: list[Webhook] | None) -> list[Webhook]:
    return [hook for hook in (webhook_subscribers() if hooks is None else hooks) if event in hook.events]


def webhook_emit(*, event: str, payload: dict[str, Any], hooks: list[Webhook] | None = None) -> list[WebhookDelivery]:
    """Write one delivery per active endpoint subscribed to ``event``; deliver them after commit.

    Call inside the transaction of the change: if it rolls back, no event
    exists and nothing is sent. Costs one query when nobody listens, none
    when the caller passes the ``hooks`` it read with ``webhook_subscribers``.
    """
    hooks = _listening(event, hooks)
    if not hooks:
        return []
    body = json.loads(json.dumps(payload, cls=DjangoJSONEncoder))
    deliveries = WebhookDelivery.objects.bulk_create(
        [WebhookDelivery(webhook=hook, event=event, payload=body) for hook in hooks]
    )
    ids = [delivery.pk for delivery in deliveries]
    # robust: a broker down at commit time must not fail the change; the sweep delivers later.
    transaction.on_commit(lambda: _queue(ids), robust=True)
    return deliveries


def webhook_emit_many(
    *, event: str, payloads: Callable[[], Iterable[dict[str, Any]]], hooks: list[Webhook] | None = None
) -> int:
    """``webhook_emit`` for a batch (a sweep): ``payloads`` is only called when someone listens."""
    hooks = _listening(event, hooks)
    if not hooks:
        return 0
    bodies = [json.loads(json.dumps(payload, cls=DjangoJSONEncoder)) for payload in payloads()]
    deliveries = WebhookDelivery.objects.bulk_create(
        [WebhookDelivery(webhook=hook, event=event, payload=body) for body in bodies for hook in hooks]
    )
    ids = [delivery.pk for delivery in deliveries]
    transaction.on_commit(lambda: _queue(ids), robust=True)
    return len(ids)


def _queue(ids: list[int]) -> None:
    for delivery_id in ids:
        task_send(DELIVER_TASK, args=[delivery_id])


def webhook_payloads_erase_customer(*, customer_id: int, name: str) -> None:
    """Erasure (GDPR): events name the customer (``{"customer": {"id", "external_ref", "name"}}``): keep the id."""
    for delivery in WebhookDelivery.objects.filter(payload__customer__id=customer_id).only("pk", "payload"):
        payload = {**delivery.payload, "customer": {"id": customer_id, "external_ref": None, "name": name}}
        WebhookDelivery.objects.filter(pk=delivery.pk).update(payload=payload)


# --- Delivering -------------------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect could point anywhere, including the private network: treat it as a failure."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def webhook_body(delivery: WebhookDelivery) -> bytes:
    envelope = {
        "id": str(delivery.delivery_id),
        "event": delivery.event,
        "created_at": delivery.created_at.isoformat(),
        "data": delivery.payload,
    }
    return json.dumps(envelope, separators=(",", ":"), sort_keys=True).encode()


def webhook_deliver(*, delivery_id: int) -> bool:
    """Claim one delivery, POST it, record the outcome. True when this call delivered it."""
    return _deliver(delivery_id) == SENT


def _deliver(delivery_id: int) -> str:
    now = timezone.now()
    lease_until = now + timedelta(seconds=settings.AFTERSALES["WEBHOOK_LEASE_SECONDS"])
    if not WebhookDelivery.objects.claim(delivery_id, lease_until=lease_until, at=now):
        return SKIPPED
    delivery = WebhookDelivery.objects.select_related("webhook").get(pk=delivery_id)
    hook = delivery.webhook
    status: int | None = None
    try:
        if not hook.active:
            raise RuntimeError("the endpoint was deactivated")
        problem = webhook_url_errors(hook.url)
        if problem:
            raise RuntimeError(problem)
        body = webhook_body(delivery)
        request = urllib.request.Request(  # noqa: S310 - scheme checked by webhook_url_errors
            hook.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "Aftersales-Webhooks/1",
                "Aftersales-Event": delivery.event,
                "Aftersales-Delivery": str(delivery.delivery_id),
                SIGNATURE_HEADER: webhook_sign(secret=hook.secret, body=body, timestamp=int(time.time())),
            },
        )
        with _OPENER.open(request, timeout=settings.AFTERSALES["WEBHOOK_TIMEOUT_SECONDS"]) as response:
            status = response.status
            response.read(RESPONSE_EXCERPT)
    except urllib.error.HTTPError as exc:
        _record_failure(delivery, f"HTTP {exc.code}", exc.code, lease_until)
        return FAILED
    except Exception as exc:  # network errors, timeouts, refused addresses: recorded and retried
        _record_failure(delivery, f"{type(exc).__name__}: {exc}", status, lease_until)
        return FAILED
    WebhookDelivery.objects.record_done(delivery_id, last_status=status)
    return SENT


def _record_failure(delivery: WebhookDelivery, error: str, status: int | None, lease_until: datetime) -> None:
    # Only while our lease holds: a worker that re-claimed the row after it expired owns the outcome.
    gave_up = WebhookDelivery.objects.record_failure(
        delivery.pk,
        attempts=delivery.attempts,
        error=error,
        lease_until=lease_until,
        max_attempts=settings.AFTERSALES["WEBHOOK_MAX_ATTEMPTS"],
        last_status=status,
    )
    if gave_up:
        logger.error("webhooks: giving up on delivery %s after %s attempts: %s", delivery.pk, delivery.attempts, error)
    else:
        logger.warning("webhooks: delivery %s attempt %s failed: %s", delivery.pk, delivery.attempts, error)


def webhook_sweep(*, batch_size: int = 200) -> int:
    """Deliver up to ``batch_size`` due deliveries (lost tasks, due retries, expired leases); return how many."""
    ids = list(
        WebhookDelivery.objects.deliverable()  # served by the partial index webhookdelivery_pending_idx
        .order_by("send_after", "pk")
        .values_list("pk", flat=True)[:batch_size]
    )
    return sum(1 for delivery_id in ids if _deliver(delivery_id) == SENT)
