"""Unsubscribe: one POST without cookies, harmless twice; a GET only asks; staff resubscribe with a reason."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from aftersales.mail.models import OutboxEmail
from feedback.models import ConsentAction, EmailConsentEvent
from feedback.services.unsubscribe import (
    REASON_MAX_LENGTH,
    customer_resubscribe,
    customer_unsubscribe,
    unsubscribe_token,
    unsubscribe_url,
)
from tests.factories import CheckupPlanFactory, CustomerFactory, OutboxEmailFactory, PlanStepFactory, ProductFactory
from touchpoints.services import purchase_record


@pytest.fixture
def customer(alice):
    return CustomerFactory(owner=alice, name="Олег Петров", language="ru", email="oleg@example.com")


def test_the_link_is_absolute_and_signed_for_unsubscribing_only(customer, settings):
    from touchpoints.careplan import careplan_url

    url = unsubscribe_url(customer)

    assert url.startswith(settings.SITE_URL + "/feedback/u/")
    # A care-plan token cannot unsubscribe anyone, and the other way round.
    care_token = careplan_url(customer).rstrip("/").rsplit("/", 1)[-1]
    assert Client().post(reverse("feedback:unsubscribe", args=[care_token])).status_code == 404
    customer.refresh_from_db()
    assert not customer.email_opt_out


def test_a_get_asks_and_changes_nothing(customer):
    response = Client().get(reverse("feedback:unsubscribe", args=[unsubscribe_token(customer)]))

    customer.refresh_from_db()
    assert response.status_code == 200
    assert "Отписать меня" in response.content.decode()  # the confirm button, in Russian
    assert not customer.email_opt_out
    assert not EmailConsentEvent.objects.exists()


def test_the_one_click_post_works_without_cookies_or_csrf_and_twice_without_harm(customer):
    client = Client(enforce_csrf_checks=True)
    url = reverse("feedback:unsubscribe", args=[unsubscribe_token(customer)])

    first = client.post(url, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
    customer.refresh_from_db()
    opted_out_at = customer.email_opt_out_at
    second = client.post(url, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")

    assert first.status_code == second.status_code == 200
    assert "Вы отписались" in second.content.decode()
    customer.refresh_from_db()
    assert customer.email_opt_out and customer.email_opt_out_at == opted_out_at is not None
    assert EmailConsentEvent.objects.filter(customer=customer, action=ConsentAction.OPTED_OUT).count() == 1


def test_a_forged_token_gets_the_friendly_page(customer):
    token = unsubscribe_token(customer)
    forged = token[:-2] + ("xx" if not token.endswith("xx") else "yy")

    response = Client().post(reverse("feedback:unsubscribe", args=[forged]))

    assert response.status_code == 404
    customer.refresh_from_db()
    assert not customer.email_opt_out


def test_queued_survey_and_care_plan_mail_is_withdrawn_other_mail_is_not(customer):
    survey = OutboxEmailFactory(customer=customer, kind=OutboxEmail.Kind.SURVEY)
    care = OutboxEmailFactory(customer=customer, kind=OutboxEmail.Kind.CARE_PLAN)
    account = OutboxEmailFactory(customer=customer, kind=OutboxEmail.Kind.ACCOUNT)

    Client().post(reverse("feedback:unsubscribe", args=[unsubscribe_token(customer)]))

    assert set(OutboxEmail.objects.pending().values_list("pk", flat=True)) == {account.pk}
    survey.refresh_from_db(), care.refresh_from_db()
    assert survey.failed_at and "unsubscribed" in survey.last_error


def test_an_unsubscribed_customer_gets_no_care_plan(customer, alice):
    Client().post(reverse("feedback:unsubscribe", args=[unsubscribe_token(customer)]))
    customer.refresh_from_db()
    plan = CheckupPlanFactory()
    PlanStepFactory(plan=plan, offset_days=7)

    purchase_record(
        customer=customer,
        product=ProductFactory(default_plan=plan),
        ordered_at=timezone.localdate(),
        amount=10,
        recorded_by=alice,
    )

    assert not OutboxEmail.objects.filter(kind=OutboxEmail.Kind.CARE_PLAN).exists()


def test_the_rep_still_sees_the_customer_with_a_badge_and_resubscribes_with_a_reason(alice_client, customer):
    Client().post(reverse("feedback:unsubscribe", args=[unsubscribe_token(customer)]))

    page = alice_client.get(customer.get_absolute_url()).content.decode()
    refused = alice_client.post(reverse("feedback:resubscribe", args=[customer.pk]), {"reason": "  "}, follow=True)
    customer.refresh_from_db()
    still_out = customer.email_opt_out
    alice_client.post(reverse("feedback:resubscribe", args=[customer.pk]), {"reason": "Asked on the call of 3 May"})

    assert "No email (opted out)" in page and "Unsubscribed" in page
    assert "Say why the customer gets email again" in refused.content.decode()
    assert still_out
    customer.refresh_from_db()
    assert not customer.email_opt_out and customer.email_opt_out_at is None
    event = EmailConsentEvent.objects.get(action=ConsentAction.RESUBSCRIBED)
    assert event.reason == "Asked on the call of 3 May" and event.by.username == "alice"
    history = alice_client.get(customer.get_absolute_url()).content.decode()
    assert "Resubscribed by Alice Archer:" in history and "Asked on the call of 3 May</span>" in history


def test_another_rep_cannot_resubscribe(client, bob, customer):
    customer.email_opt_out = True
    customer.save()
    client.force_login(bob)

    response = client.post(reverse("feedback:resubscribe", args=[customer.pk]), {"reason": "Because"})

    assert response.status_code == 404
    customer.refresh_from_db()
    assert customer.email_opt_out


def test_the_resubscribe_service_refuses_another_rep_an_overlong_reason_and_a_customer_still_subscribed(
    alice, bob, customer
):
    """The service guards itself, whatever page or script calls it; a refusal records nothing."""
    customer_unsubscribe(customer=customer)

    with pytest.raises(PermissionDenied):
        customer_resubscribe(customer=customer, by=bob, reason="They asked me")
    with pytest.raises(ValidationError) as too_long:
        customer_resubscribe(customer=customer, by=alice, reason="x" * (REASON_MAX_LENGTH + 1))
    customer.refresh_from_db()
    assert customer.email_opt_out
    assert "reason" in too_long.value.message_dict

    customer_resubscribe(customer=customer, by=alice, reason="x" * REASON_MAX_LENGTH)
    with pytest.raises(ValidationError) as again:
        customer_resubscribe(customer=customer, by=alice, reason="Asked twice")

    assert again.value.code == "not_opted_out"
    assert EmailConsentEvent.objects.filter(action=ConsentAction.RESUBSCRIBED).count() == 1


def test_an_unsubscribed_customer_gets_no_survey(customer):
    from feedback.services.invitations import invitation_send
    from tests.factories import SurveyInvitationFactory

    invitation = SurveyInvitationFactory(customer=customer, send_at=timezone.now() - dt.timedelta(minutes=1))
    Client().post(reverse("feedback:unsubscribe", args=[unsubscribe_token(customer)]))

    assert not invitation_send(invitation_id=invitation.pk)
    assert not OutboxEmail.objects.filter(kind=OutboxEmail.Kind.SURVEY).exists()
