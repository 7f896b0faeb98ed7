"""Integrity lives in the database: bad rows are refused even when model and
form validation are bypassed (bulk updates, imports, raw SQL, a buggy job).

Every bad write goes through ``QuerySet.update()`` or a plain ``create()``,
which skip ``full_clean()``; each is wrapped in its own atomic block so the
test transaction survives the IntegrityError.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from customers.models import Customer, Purchase, RiskFlag
from feedback.models import SurveyResponse
from tests.factories import (
    CustomerFactory,
    OutboxEmailFactory,
    PlanStepFactory,
    PurchaseFactory,
    RiskFlagFactory,
    SurveyInvitationFactory,
    SurveyResponseFactory,
    TouchPointFactory,
)
from touchpoints.models import TouchPoint

pytestmark = pytest.mark.django_db


# (factory, model, field, value): one row per score range edge.
OUT_OF_RANGE = [
    pytest.param(SurveyResponseFactory, SurveyResponse, "nps", 11, id="nps-11"),
    pytest.param(SurveyResponseFactory, SurveyResponse, "nps", -1, id="nps-minus-1"),
    pytest.param(SurveyResponseFactory, SurveyResponse, "csat", 0, id="csat-0"),
    pytest.param(SurveyResponseFactory, SurveyResponse, "csat", 6, id="csat-6"),
    pytest.param(TouchPointFactory, TouchPoint, "temperature", 0, id="temperature-0"),
    pytest.param(TouchPointFactory, TouchPoint, "temperature", 9, id="temperature-9"),
    pytest.param(CustomerFactory, Customer, "health_score", 101, id="health-101"),
    pytest.param(PurchaseFactory, Purchase, "amount", -1, id="amount-negative"),
]

# The edges themselves are valid: the constraints are not off by one.
IN_RANGE = [
    pytest.param(SurveyResponseFactory, SurveyResponse, "nps", 0, id="nps-0"),
    pytest.param(SurveyResponseFactory, SurveyResponse, "nps", 10, id="nps-10"),
    pytest.param(SurveyResponseFactory, SurveyResponse, "csat", 1, id="csat-1"),
    pytest.param(SurveyResponseFactory, SurveyResponse, "csat", 5, id="csat-5"),
    pytest.param(SurveyResponseFactory, SurveyResponse, "nps", None, id="nps-unanswered"),
    pytest.param(TouchPointFactory, TouchPoint, "temperature", 1, id="temperature-1"),
    pytest.param(TouchPointFactory, TouchPoint, "temperature", 5, id="temperature-5"),
    pytest.param(CustomerFactory, Customer, "health_score", 0, id="health-0"),
    pytest.param(CustomerFactory, Customer, "health_score", 100, id="health-100"),
    pytest.param(PurchaseFactory, Purchase, "amount", 0, id="amount-0"),
]


@pytest.mark.parametrize(("factory", "model", "field", "value"), OUT_OF_RANGE)
def test_out_of_range_value_is_rejected_by_the_database(factory, model, field, value):
    obj = factory()
    with pytest.raises(IntegrityError), transaction.atomic():
        model.objects.filter(pk=obj.pk).update(**{field: value})
    obj.refresh_from_db()
    assert getattr(obj, field) != value


@pytest.mark.parametrize(("factory", "model", "field", "value"), IN_RANGE)
def test_edge_value_is_accepted(factory, model, field, value):
    obj = factory()
    model.objects.filter(pk=obj.pk).update(**{field: value})
    obj.refresh_from_db()
    assert getattr(obj, field) == value


def test_delivery_before_the_order_is_rejected_but_same_day_is_fine():
    purchase = PurchaseFactory(ordered_at=dt.date(2024, 3, 10))
    with pytest.raises(IntegrityError), transaction.atomic():
        Purchase.objects.filter(pk=purchase.pk).update(delivered_at=dt.date(2024, 3, 9))
    Purchase.objects.filter(pk=purchase.pk).update(delivered_at=dt.date(2024, 3, 10))
    purchase.refresh_from_db()
    assert purchase.delivered_at == dt.date(2024, 3, 10)


def test_second_open_flag_for_the_same_reason_is_rejected():
    flag = RiskFlagFactory(reason="detractor")
    with pytest.raises(IntegrityError), transaction.atomic():
        RiskFlag.objects.create(customer=flag.customer, reason="detractor")
    # Another reason, or the same reason on another customer, is a different flag.
    RiskFlag.objects.create(customer=flag.customer, reason="low_csat")
    RiskFlagFactory(reason="detractor")
    assert RiskFlag.objects.filter(reason="detractor").count() == 2


def test_flag_for_the_same_reason_can_be_raised_again_once_resolved():
    flag = RiskFlagFactory(reason="gone_quiet")
    RiskFlag.objects.filter(pk=flag.pk).update(resolved_at=timezone.now())
    again = RiskFlag.objects.create(customer=flag.customer, reason="gone_quiet")
    assert list(RiskFlag.objects.filter(customer=flag.customer).open()) == [again]


@pytest.mark.parametrize("factory", [CustomerFactory, PurchaseFactory], ids=["customer", "purchase"])
def test_external_ref_is_unique_but_may_be_missing_on_many_rows(factory):
    model = factory._meta.model
    first = factory(external_ref="ERP-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        factory(external_ref="ERP-1")
    second = factory(external_ref=None)
    third = factory(external_ref=None)
    assert model.objects.filter(pk__in=[first.pk, second.pk, third.pk]).count() == 3


@pytest.mark.parametrize("factory", [CustomerFactory, PurchaseFactory], ids=["customer", "purchase"])
def test_blank_external_ref_is_rejected(factory):
    """A blank string would collide with the next blank one; missing is NULL."""
    obj = factory()
    with pytest.raises(IntegrityError), transaction.atomic():
        factory._meta.model.objects.filter(pk=obj.pk).update(external_ref="")


def test_done_touch_point_needs_a_completion_time():
    touchpoint = TouchPointFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        TouchPoint.objects.filter(pk=touchpoint.pk).update(status="done")
    TouchPoint.objects.filter(pk=touchpoint.pk).update(status="done", completed_at=timezone.now())
    touchpoint.refresh_from_db()
    assert touchpoint.status == "done"


def test_a_plan_step_is_scheduled_once_per_purchase():
    purchase = PurchaseFactory()
    step = PlanStepFactory()
    TouchPointFactory(customer=purchase.customer, purchase=purchase, plan_step=step)
    with pytest.raises(IntegrityError), transaction.atomic():
        TouchPointFactory(customer=purchase.customer, purchase=purchase, plan_step=step)
    # The same step for another purchase, and ad hoc touch points, are fine.
    TouchPointFactory(customer=purchase.customer, purchase=PurchaseFactory(customer=purchase.customer), plan_step=step)
    TouchPointFactory(customer=purchase.customer, purchase=purchase)
    TouchPointFactory(customer=purchase.customer, purchase=purchase)
    assert TouchPoint.objects.filter(customer=purchase.customer).count() == 4


def test_outbox_row_cannot_be_both_sent_and_failed():
    email = OutboxEmailFactory(sent_at=timezone.now())
    with pytest.raises(IntegrityError), transaction.atomic():
        type(email).objects.filter(pk=email.pk).update(failed_at=timezone.now())
    email.refresh_from_db()
    assert email.status == "sent"


def test_survey_invitation_token_hash_is_unique():
    invitation = SurveyInvitationFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        SurveyInvitationFactory(token_hash=invitation.token_hash)
