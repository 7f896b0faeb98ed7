"""The care plan the customer receives: the email, its public page and the "date moved" note."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.conf import settings
from django.core import signing
from django.db import connection
from django.test.utils import CaptureQueriesContext

from aftersales.core.models import UserProfile
from aftersales.mail.models import MailboxMessage, OutboxEmail
from aftersales.mail.outbox import outbox_deliver
from tests.factories import (
    CheckupPlanFactory,
    CustomerFactory,
    PlanStepFactory,
    ProductFactory,
    PurchaseFactory,
    TouchPointFactory,
)
from touchpoints.careplan import careplan_notify_date_moved, careplan_token, email_subject
from touchpoints.models import Channel, Kind, Status, TouchPoint
from touchpoints.services import purchase_record

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("compiled_messages")]

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)  # Monday 2 March 2026
MADRID = "Europe/Madrid"


@pytest.fixture(autouse=True)
def frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture
def mailbox(settings):
    settings.EMAIL_BACKEND = "aftersales.mail.mailbox.DevMailboxBackend"


@pytest.fixture
def product():
    plan = CheckupPlanFactory(name="Machine plan")
    PlanStepFactory(plan=plan, position=1, offset_days=3, channel=Channel.CALL, objective="Check the machine works")
    PlanStepFactory(plan=plan, position=2, offset_days=30, channel=Channel.VISIT, objective="Descale it together")
    return ProductFactory(name="Espresso machine", default_plan=plan)


def record(customer, product, **fields):
    purchase, created = purchase_record(
        customer=customer, product=product, ordered_at=NOW.date(), amount=1200, **fields
    )
    assert created
    return purchase


def care_plan_email() -> OutboxEmail:
    return OutboxEmail.objects.get(kind=OutboxEmail.Kind.CARE_PLAN)


def delivered(email: OutboxEmail) -> MailboxMessage:
    assert outbox_deliver(email_id=email.pk)
    return MailboxMessage.objects.get(message_id=email.message_id)


def page_path(email: OutboxEmail) -> str:
    url = re.search(r"https?://\S+/care-plan/\S+/", email.body_text).group(0)
    assert url.startswith(settings.SITE_URL)
    return url.removeprefix(settings.SITE_URL)


@pytest.fixture
def alice_with_phone(alice):
    UserProfile.objects.create(user=alice, phone="+34 600 123 456")
    return alice


# --- The email ---------------------------------------------------------------------


def test_the_care_plan_email_of_a_spanish_customer_is_in_spanish(mailbox, alice_with_phone, product):
    customer = CustomerFactory(
        owner=alice_with_phone, name="Nadia Ortega", email="nadia@example.es", language="es", timezone=MADRID
    )
    record(customer, product)

    email = care_plan_email()
    assert email.subject == "Su plan de seguimiento de Espresso machine: cuándo nos pondremos en contacto"
    assert email.reply_to == alice_with_phone.email
    message = delivered(email)
    for body in (message.body_text, message.body_html):
        assert "Hola, Nadia Ortega:" in body
        assert "Hemos programado 2 revisiones con usted:" in body
        assert "Lo que revisaremos con usted" in body
        assert "jueves, 5 de marzo de 2026" in body  # day 3, on the customer's clock
        assert "miércoles, 1 de abril de 2026" in body  # day 30
        assert "10:00" in body
        assert "Llamada" in body and "Visita" in body
        assert "Check the machine works" in body
        assert "Un cordial saludo," in body
        assert "Alice Archer" in body and alice_with_phone.email in body and "+34 600 123 456" in body
        assert "Ver su plan de seguimiento" in body
    assert message.subject == email.subject
    assert message.to == "nadia@example.es"
    assert '<html lang="es">' in message.body_html


def test_the_care_plan_email_of_a_russian_customer_is_in_russian(mailbox, alice, product):
    customer = CustomerFactory(owner=alice, name="Ольга", language="ru", timezone="Europe/Moscow")
    record(customer, product, renewal_date=dt.date(2026, 12, 1))

    message = delivered(care_plan_email())
    assert message.subject == "Ваш план сопровождения для Espresso machine: когда мы свяжемся с вами"
    body = message.body_text
    assert "Здравствуйте, Ольга!" in body
    assert "Мы запланировали для вас 4 проверки:" in body
    assert "Что мы обсудим с вами" in body
    assert "5 марта 2026 г." in body
    assert "Звонок" in body and "Визит" in body
    # Renewal calls are worded in the customer's language, not with the rep's note.
    assert "Продление 1 декабря 2026 г.: как у вас дела и что вам понадобится дальше." in body
    assert "Renewal on" not in body
    assert "С уважением," in body


def test_an_english_customer_reads_english_dates_in_their_own_time_zone(alice, product):
    customer = CustomerFactory(owner=alice, name="Tom", language="en", timezone="Asia/Tokyo")
    record(customer, product)

    body = care_plan_email().body_text
    assert "Hello Tom," in body
    assert "We have planned 2 check-ups with you:" in body
    assert "Thursday, March 5, 2026, 10 a.m. · Call" in body
    assert "What we will review with you: Check the machine works" in body


def test_the_email_lists_only_what_is_coming_in_the_care_plan(alice, product):
    customer = CustomerFactory(owner=alice)
    TouchPointFactory(customer=customer, kind=Kind.FOLLOW_UP, objective="Internal follow-up", due_at=NOW)
    TouchPointFactory(
        customer=customer, kind=Kind.PLANNED, objective="Already done", due_at=NOW, status=Status.DONE, completed_at=NOW
    )
    TouchPointFactory(customer=customer, kind=Kind.PLANNED, objective="Last week", due_at=NOW - dt.timedelta(days=7))
    TouchPointFactory(kind=Kind.PLANNED, objective="Someone else's", due_at=NOW + dt.timedelta(days=1))
    record(customer, product)

    body = care_plan_email().body_text
    assert "Check the machine works" in body and "Descale it together" in body
    for hidden in ("Internal follow-up", "Already done", "Last week", "Someone else's"):
        assert hidden not in body


def test_user_text_is_escaped_in_the_html_mail_and_left_plain_in_the_text(alice):
    plan = CheckupPlanFactory()
    PlanStepFactory(plan=plan, position=1, offset_days=3, objective='<script>alert("x")</script> & <b>more</b>')
    customer = CustomerFactory(owner=alice, name="<i>Eve</i>")
    record(customer, ProductFactory(name="<Box>", default_plan=plan))

    email = care_plan_email()
    assert "<script>" not in email.body_html and "<i>Eve</i>" not in email.body_html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;more&lt;/b&gt;" in email.body_html
    assert "&lt;i&gt;Eve&lt;/i&gt;" in email.body_html and "&lt;Box&gt;" in email.body_html
    assert '<script>alert("x")</script> & <b>more</b>' in email.body_text
    assert "Hello <i>Eve</i>," in email.body_text


def test_a_product_name_cannot_inject_mail_headers(mailbox, alice, product):
    product.name = "Box\r\nBcc: thief@example.com\nX-Evil: 1"
    product.save()
    record(CustomerFactory(owner=alice), product)

    email = care_plan_email()
    assert "\r" not in email.subject and "\n" not in email.subject
    message = delivered(email)
    assert "Bcc" not in message.headers and "X-Evil" not in message.headers
    assert message.to.count("@") == 1
    assert email_subject("a\r\n\tb\x0bc") == "a b c"


# --- The public page -----------------------------------------------------------------


def test_the_link_in_the_email_shows_the_same_plan_in_the_customers_language(client, alice, product):
    customer = CustomerFactory(owner=alice, name="Nadia Ortega", language="es", timezone=MADRID)
    record(customer, product)
    path = page_path(care_plan_email())

    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    content = response.content.decode()
    assert '<html lang="es">' in content
    assert "Su plan de seguimiento" in content
    assert "jueves, 5 de marzo de 2026" in content
    assert "Check the machine works" in content and "Descale it together" in content
    assert "Alice Archer" in content
    assert response["Content-Language"] == "es"
    assert "noindex" in response["X-Robots-Tag"]
    assert "no-cache" in response["Cache-Control"] or "no-store" in response["Cache-Control"]
    writes = [q["sql"] for q in queries.captured_queries if not q["sql"].lstrip().upper().startswith("SELECT")]
    assert writes == [], "a GET of the public page writes nothing"


def test_the_page_escapes_user_text(client, alice):
    plan = CheckupPlanFactory()
    PlanStepFactory(plan=plan, position=1, offset_days=3, objective="<img src=x onerror=alert(1)>")
    customer = CustomerFactory(owner=alice)
    record(customer, ProductFactory(default_plan=plan))

    content = client.get(page_path(care_plan_email())).content.decode()

    assert "<img src=x" not in content
    assert "&lt;img src=x onerror=alert(1)&gt;" in content


def test_a_customer_with_nothing_coming_up_sees_a_friendly_page(client, alice):
    customer = CustomerFactory(owner=alice, language="ru")

    response = client.get(f"/care-plan/{careplan_token(customer)}/")

    assert response.status_code == 200
    assert "Сейчас запланированных проверок нет." in response.content.decode()


def tampered(token: str) -> str:
    value, signature = token.rsplit(":", 1)
    return f"{value}:{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda customer: tampered(careplan_token(customer)), id="tampered-signature"),
        pytest.param(
            lambda customer: signing.dumps({"customer": customer.pk + 1}, salt="other.salt"), id="another-salt"
        ),
        pytest.param(lambda customer: signing.dumps({"customer": customer.pk}), id="no-salt"),
        pytest.param(lambda customer: "not-a-token", id="garbage"),
        pytest.param(lambda customer: careplan_token(customer) + "x" * 300, id="too-long"),
    ],
)
def test_a_bad_token_gets_a_friendly_404_that_reveals_nothing(client, alice, product, make_token):
    customer = CustomerFactory(owner=alice, name="Nadia Ortega")
    record(customer, product)

    response = client.get(f"/care-plan/{make_token(customer)}/")

    assert response.status_code == 404
    content = response.content.decode()
    assert "This link does not work" in content
    assert "Nadia Ortega" not in content and "Check the machine works" not in content


def test_the_token_of_a_deleted_customer_is_a_404(client, alice):
    customer = CustomerFactory(owner=alice)
    token = careplan_token(customer)
    customer.delete()

    assert client.get(f"/care-plan/{token}/").status_code == 404


def test_the_invalid_link_page_speaks_the_browsers_language(client):
    response = client.get("/care-plan/not-a-token/", HTTP_ACCEPT_LANGUAGE="es")

    assert response.status_code == 404
    assert "Este enlace no funciona" in response.content.decode()


def test_the_page_refuses_a_post(client, alice, product):
    customer = CustomerFactory(owner=alice)
    record(customer, product)
    before = list(TouchPoint.objects.values_list("pk", "status", "due_at"))

    response = client.post(page_path(care_plan_email()))

    assert response.status_code == 405
    assert list(TouchPoint.objects.values_list("pk", "status", "due_at")) == before


# --- "A date moved" --------------------------------------------------------------------


def planned_touchpoint(customer, due_at, **fields) -> TouchPoint:
    purchase = PurchaseFactory(customer=customer)
    fields = {"kind": Kind.PLANNED, "objective": "Descale it together"} | fields
    return TouchPointFactory(customer=customer, purchase=purchase, due_at=due_at, **fields)


def test_moving_a_checkup_to_another_day_tells_the_customer_in_their_language(alice):
    customer = CustomerFactory(owner=alice, name="Nadia", language="es", timezone=MADRID)
    old_due = dt.datetime(2026, 3, 5, 9, 0, tzinfo=dt.UTC)  # Thursday 10:00 in Madrid
    touchpoint = planned_touchpoint(customer, dt.datetime(2026, 3, 9, 9, 0, tzinfo=dt.UTC), channel=Channel.VISIT)

    email = careplan_notify_date_moved(touchpoint=touchpoint, old_due_at=old_due)

    assert email is not None and email.kind == OutboxEmail.Kind.CARE_PLAN
    assert email.subject == "Nueva fecha para su revisión: lunes, 9 de marzo de 2026"
    body = email.body_text
    assert "Hemos cambiado una de sus revisiones a otro día." in body
    assert "Antes: jueves, 5 de marzo de 2026" in body
    assert "Ahora: lunes, 9 de marzo de 2026, 10:00 · Visita" in body
    assert "Lo que revisaremos con usted: Descale it together" in body
    assert "<s>jueves, 5 de marzo de 2026</s>" in email.body_html


def test_a_new_hour_on_the_same_local_day_is_not_news(alice):
    customer = CustomerFactory(owner=alice, timezone=MADRID)
    # 23:30 UTC on 5 March is already 00:30 on 6 March in Madrid: the same day as 10:00 on 6 March.
    old_due = dt.datetime(2026, 3, 5, 23, 30, tzinfo=dt.UTC)
    touchpoint = planned_touchpoint(customer, dt.datetime(2026, 3, 6, 9, 0, tzinfo=dt.UTC))

    assert careplan_notify_date_moved(touchpoint=touchpoint, old_due_at=old_due) is None
    assert not OutboxEmail.objects.exists()


@pytest.mark.parametrize(
    ("customer_fields", "touchpoint_fields"),
    [
        ({"email_opt_out": True}, {}),
        ({"email": ""}, {}),
        ({}, {"kind": Kind.FOLLOW_UP}),
    ],
    ids=["opted-out", "no-email", "not-in-the-care-plan"],
)
def test_no_date_moved_email_when_the_customer_cannot_be_mailed_or_never_saw_the_checkup(
    alice, customer_fields, touchpoint_fields
):
    customer = CustomerFactory(owner=alice, **customer_fields)
    touchpoint = planned_touchpoint(customer, NOW + dt.timedelta(days=5), **touchpoint_fields)

    assert careplan_notify_date_moved(touchpoint=touchpoint, old_due_at=NOW + dt.timedelta(days=2)) is None
    assert not OutboxEmail.objects.exists()
