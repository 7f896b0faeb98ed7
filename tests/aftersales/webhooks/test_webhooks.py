"""Outbound webhooks: written with the change, signed, delivered with lease and retry, refused on private hosts."""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone

from aftersales.webhooks.models import Webhook, WebhookDelivery, WebhookEvent
from aftersales.webhooks.services import (
    SIGNATURE_HEADER,
    webhook_deliver,
    webhook_register,
    webhook_sign,
    webhook_sweep,
    webhook_url_errors,
    webhook_verify,
)
from customers.models import FlagReason
from customers.services import riskflag_raise
from tests.conftest import ROOT
from tests.factories import CustomerFactory, ProductFactory, SurveyInvitationFactory, TouchPointFactory
from touchpoints.services import purchase_record

SECRET = "whsec_test"


class Receiver:
    """A real HTTP endpoint on 127.0.0.1 in a thread: answers with the queued statuses, then 200."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"headers": dict(self.headers), "body": body, "path": self.path})
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/aftersales"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(settings):
    settings.AFTERSALES = {**settings.AFTERSALES, "WEBHOOKS_ALLOW_PRIVATE": True, "WEBHOOK_TIMEOUT_SECONDS": 5}
    receiver = Receiver()
    yield receiver
    receiver.close()


def _hook(url: str, *events: str) -> Webhook:
    return Webhook.objects.create(url=url, events=list(events), secret=SECRET)


def _documented_verifier():
    """The Python example of docs/API.md, run as documented."""
    text = (ROOT / "docs" / "API.md").read_text()
    code = re.search(r"### Verifying a signature \(Python\).*?```python\n(.*?)```", text, re.S).group(1)
    namespace: dict = {}
    exec(code, namespace)  # noqa: S102 - our own documentation
    return namespace["verify_aftersales_signature"]


# --- Signing ---------------------------------------------------------------------------------


def test_a_signature_verifies_and_any_change_breaks_it():
    body = b'{"event":"customer.flagged"}'
    header = webhook_sign(secret=SECRET, body=body, timestamp=int(time.time()))
    verify = _documented_verifier()

    assert verify(SECRET, body, header)
    assert webhook_verify(secret=SECRET, body=body, header=header)
    assert not verify(SECRET, body + b" ", header)
    assert not verify("whsec_other", body, header)
    assert not verify(SECRET, body, header.replace("v1=", "v1=0"))
    assert not verify(SECRET, body, "garbage")


def test_an_old_signature_is_refused_so_a_captured_request_cannot_be_replayed():
    body = b"{}"
    header = webhook_sign(secret=SECRET, body=body, timestamp=int(time.time()) - 301)

    assert not _documented_verifier()(SECRET, body, header)
    assert not webhook_verify(secret=SECRET, body=body, header=header)


# --- Where webhooks may go -------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8000/x", "http://localhost/x", "http://10.0.0.5/x", "http://192.168.1.1/", "http://[::1]/",
     "http://169.254.169.254/latest/meta-data/", "ftp://example.com/x", "http:///nohost"],
)  # fmt: skip
def test_private_loopback_and_odd_urls_are_refused(settings, url):
    settings.AFTERSALES = {**settings.AFTERSALES, "WEBHOOKS_ALLOW_PRIVATE": False}

    assert webhook_url_errors(url) is not None


def test_registering_checks_the_url_and_the_events(mary, settings):
    settings.AFTERSALES = {**settings.AFTERSALES, "WEBHOOKS_ALLOW_PRIVATE": False}

    with pytest.raises(Exception) as caught:
        webhook_register(url="http://127.0.0.1/x", events=["nope"], by=mary)

    assert set(caught.value.message_dict) == {"url", "events"}
    assert not Webhook.objects.exists()


def test_a_private_target_is_refused_at_delivery_too(receiver, settings, alice):
    """The setting may change, or DNS may start answering a private address, after registration."""
    _hook(receiver.url, WebhookEvent.CUSTOMER_FLAGGED)
    with transaction.atomic():
        riskflag_raise(customer=CustomerFactory(owner=alice), reason=FlagReason.DETRACTOR, detail="NPS 3")
    settings.AFTERSALES = {**settings.AFTERSALES, "WEBHOOKS_ALLOW_PRIVATE": False}

    assert not webhook_deliver(delivery_id=WebhookDelivery.objects.get().pk)

    assert receiver.requests == []
    assert "private or loopback" in WebhookDelivery.objects.get().last_error


# --- Emitting with the change ----------------------------------------------------------------


def test_a_recorded_purchase_reaches_the_receiver_signed(receiver, alice, django_capture_on_commit_callbacks):
    hook = _hook(receiver.url, WebhookEvent.PURCHASE_RECORDED)
    _hook(receiver.url + "/other", WebhookEvent.CUSTOMER_FLAGGED)  # not subscribed to purchases
    customer = CustomerFactory(owner=alice, external_ref="C-1")

    with django_capture_on_commit_callbacks() as callbacks:
        purchase, _ = purchase_record(
            customer=customer, product=ProductFactory(sku="B-1"), ordered_at=dt.date.today(), amount=10,
            external_ref="SHOP-1",
        )  # fmt: skip
    delivery = WebhookDelivery.objects.get()
    assert (delivery.webhook, delivery.event) == (hook, "purchase.recorded")
    assert callbacks  # delivery is queued for after the commit, not before

    assert webhook_deliver(delivery_id=delivery.pk)

    [request] = receiver.requests
    body = json.loads(request["body"])
    assert body["event"] == "purchase.recorded"
    assert body["data"]["purchase"]["external_ref"] == "SHOP-1"
    assert body["data"]["customer"] == {"id": customer.pk, "external_ref": "C-1", "name": customer.name}
    assert request["headers"]["Aftersales-Delivery"] == str(delivery.delivery_id) == body["id"]
    assert _documented_verifier()(SECRET, request["body"], request["headers"][SIGNATURE_HEADER])
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status) == ("delivered", 1, 200)


def test_no_event_exists_when_the_change_rolls_back(receiver, alice):
    _hook(receiver.url, WebhookEvent.CUSTOMER_FLAGGED)
    customer = CustomerFactory(owner=alice)

    with pytest.raises(RuntimeError), transaction.atomic():
        riskflag_raise(customer=customer, reason=FlagReason.DETRACTOR, detail="NPS 2")
        raise RuntimeError("the rest of the change failed")

    assert not WebhookDelivery.objects.exists()


def test_a_flag_emits_once_not_on_every_note_added_to_it(receiver, alice):
    _hook(receiver.url, WebhookEvent.CUSTOMER_FLAGGED)
    customer = CustomerFactory(owner=alice)

    riskflag_raise(customer=customer, reason=FlagReason.DETRACTOR, detail="NPS 2")
    riskflag_raise(customer=customer, reason=FlagReason.DETRACTOR, detail="NPS 1 again")

    delivery = WebhookDelivery.objects.get()
    assert delivery.payload["flag"]["reason"] == "detractor"


def test_nobody_listening_costs_one_query(alice, django_assert_num_queries):
    from aftersales.webhooks.services import webhook_emit

    with django_assert_num_queries(1):
        assert webhook_emit(event=WebhookEvent.CHECKUP_MISSED, payload={"x": 1}) == []


# --- Retry, lease, give up -------------------------------------------------------------------


def _one_delivery(receiver, alice) -> WebhookDelivery:
    _hook(receiver.url, WebhookEvent.CUSTOMER_FLAGGED)
    riskflag_raise(customer=CustomerFactory(owner=alice), reason=FlagReason.DETRACTOR, detail="NPS 2")
    return WebhookDelivery.objects.get()


def test_a_failed_delivery_is_retried_later_with_the_same_id(receiver, alice):
    delivery = _one_delivery(receiver, alice)
    receiver.statuses = [500]
    start = timezone.now()

    assert not webhook_deliver(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status) == ("pending", 1, 500)
    assert delivery.send_after >= start + dt.timedelta(minutes=1)
    assert webhook_sweep() == 0  # not due yet

    with time_machine.travel(delivery.send_after + dt.timedelta(seconds=1)):
        assert webhook_sweep() == 1

    first, second = receiver.requests
    assert first["headers"]["Aftersales-Delivery"] == second["headers"]["Aftersales-Delivery"]
    assert first["body"] == second["body"]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("delivered", 2, "")


def test_a_leased_delivery_is_not_sent_twice(receiver, alice):
    delivery = _one_delivery(receiver, alice)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(leased_until=timezone.now() + dt.timedelta(minutes=1))

    assert not webhook_deliver(delivery_id=delivery.pk)
    assert webhook_sweep() == 0
    assert receiver.requests == []

    # The worker holding the lease died: once it runs out, the sweep sends the delivery.
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=2)):
        assert webhook_sweep() == 1
    assert len(receiver.requests) == 1


def test_a_delivered_row_is_never_sent_again(receiver, alice):
    delivery = _one_delivery(receiver, alice)

    assert webhook_deliver(delivery_id=delivery.pk)
    assert not webhook_deliver(delivery_id=delivery.pk)
    assert webhook_sweep() == 0
    assert len(receiver.requests) == 1


def test_it_gives_up_after_the_last_attempt(receiver, alice, settings):
    settings.AFTERSALES = {**settings.AFTERSALES, "WEBHOOK_MAX_ATTEMPTS": 2}
    delivery = _one_delivery(receiver, alice)
    receiver.statuses = [503, 503]

    webhook_deliver(delivery_id=delivery.pk)
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=5)):
        webhook_deliver(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("failed", 2, "HTTP 503")
    assert webhook_sweep() == 0


def test_an_unreachable_endpoint_is_recorded_and_retried(alice, settings):
    settings.AFTERSALES = {**settings.AFTERSALES, "WEBHOOKS_ALLOW_PRIVATE": True, "WEBHOOK_TIMEOUT_SECONDS": 2}
    closed = Receiver()
    closed.close()  # nothing listens on that port any more
    _hook(closed.url, WebhookEvent.CUSTOMER_FLAGGED)
    riskflag_raise(customer=CustomerFactory(owner=alice), reason=FlagReason.DETRACTOR, detail="NPS 2")
    delivery = WebhookDelivery.objects.get()

    assert not webhook_deliver(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == "pending" and "URLError" in delivery.last_error


def test_redirects_are_not_followed(receiver, alice):
    """A redirect could lead to the private network; it counts as a failure."""
    receiver.statuses = [302]
    delivery = _one_delivery(receiver, alice)

    assert not webhook_deliver(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert delivery.last_error == "HTTP 302"


def test_check_ups_marked_missed_are_announced_in_one_batch(receiver, alice, settings):
    from touchpoints.reminders import touchpoints_mark_missed

    hook = _hook(receiver.url, WebhookEvent.CHECKUP_MISSED)
    customer = CustomerFactory(owner=alice, external_ref="C-9")
    long_ago = timezone.now() - dt.timedelta(days=settings.AFTERSALES["MISSED_GRACE_DAYS"] + 2)
    overdue = [TouchPointFactory(customer=customer, due_at=long_ago) for _ in range(2)]
    TouchPointFactory(customer=customer, due_at=timezone.now() + dt.timedelta(days=1))

    assert touchpoints_mark_missed() == 2

    deliveries = WebhookDelivery.objects.filter(webhook=hook, event="checkup.missed")
    assert sorted(d.payload["touchpoint"]["id"] for d in deliveries) == sorted(tp.pk for tp in overdue)
    assert deliveries[0].payload["customer"]["external_ref"] == "C-9"


def test_a_detractors_answer_reaches_a_registered_receiver_with_a_valid_signature(receiver, alice):
    from feedback.services.answers import Answer, survey_response_record
    from feedback.services.loops import survey_loops_open

    _hook(receiver.url, WebhookEvent.DETRACTOR_ANSWERED)
    invitation = SurveyInvitationFactory(customer=CustomerFactory(owner=alice))

    survey_response_record(invitation=invitation, answer=Answer(nps=2, comment="It broke twice"))
    assert survey_loops_open() == 1
    assert webhook_sweep() == 1

    [request] = receiver.requests
    assert request["headers"]["Aftersales-Event"] == "survey.detractor"
    assert _documented_verifier()(SECRET, request["body"], request["headers"][SIGNATURE_HEADER])
