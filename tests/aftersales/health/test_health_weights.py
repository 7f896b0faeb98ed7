"""Health weights a manager can tune, and the score history behind the customer page's trend."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from aftersales.health.services import health_recompute, health_weights
from customers.models import Customer, HealthSnapshot, HealthWeights
from customers.services import healthweights_update
from customers.templatetags.health_trend import sparkline_points, trend
from tests.factories import CustomerFactory, SurveyResponseFactory

NOW = dt.datetime(2026, 6, 10, 9, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def test_without_a_saved_row_the_weights_are_the_settings(settings):
    assert health_weights() == settings.AFTERSALES["HEALTH_WEIGHTS"]


def test_a_manager_saves_weights_and_every_customer_becomes_due(mary_client, alice, settings):
    customer = CustomerFactory(owner=alice)
    Customer.objects.update(health_due_at=None)
    form = dict(settings.AFTERSALES["HEALTH_WEIGHTS"])
    form["nps_detractor"] = -40

    with time_machine.travel(NOW + dt.timedelta(minutes=5), tick=False):
        response = mary_client.post(reverse("risk:weights"), form)

    assert response.status_code == 302
    assert HealthWeights.objects.get().weights["nps_detractor"] == -40
    assert Customer.objects.get(pk=customer.pk).health_due_at == NOW + dt.timedelta(minutes=5)
    assert 'value="-40"' in mary_client.get(reverse("risk:weights")).content.decode()


def test_the_recompute_uses_the_managers_weights(mary, alice):
    customer = CustomerFactory(owner=alice)
    SurveyResponseFactory(invitation__customer=customer, nps=3, csat=None)
    healthweights_update(weights={"nps_detractor": -40}, by=mary)

    health_recompute()

    customer.refresh_from_db()
    assert customer.health_score == 40
    assert {"points": -40, "reason": "Latest NPS 3 (detractor)"} in customer.health_explanation


def test_a_rep_cannot_change_the_weights(alice_client, alice):
    response = alice_client.post(reverse("risk:weights"), {"base": 100})

    assert response.status_code == 403
    assert not HealthWeights.objects.exists()
    with pytest.raises(PermissionDenied):
        healthweights_update(weights={"base": 100}, by=alice)


def test_a_weight_out_of_range_is_refused_on_the_form(mary_client, settings):
    form = {**settings.AFTERSALES["HEALTH_WEIGHTS"], "base": 500}

    response = mary_client.post(reverse("risk:weights"), form)

    assert response.status_code == 200
    assert "less than or equal to 100" in response.content.decode()
    assert not HealthWeights.objects.exists()


def test_each_recompute_keeps_one_snapshot_per_day(alice):
    customer = CustomerFactory(owner=alice)
    health_recompute()
    SurveyResponseFactory(invitation__customer=customer, nps=10, csat=None)
    Customer.objects.filter(pk=customer.pk).mark_health_due()
    health_recompute()  # the same day: the snapshot is overwritten, not doubled
    with time_machine.travel(NOW + DAY, tick=False):
        Customer.objects.filter(pk=customer.pk).mark_health_due()
        health_recompute()

    snapshots = list(
        HealthSnapshot.objects.filter(customer=customer).order_by("taken_on").values_list("taken_on", "score")
    )
    assert snapshots == [(NOW.date(), 90), ((NOW + DAY).date(), 90)]


def test_the_customer_page_shows_the_trend_and_a_sparkline(alice_client, alice):
    customer = CustomerFactory(
        owner=alice, health_due_at=None, health_score=45, health_explanation=[{"points": -35, "reason": "x"}]
    )
    for days_ago, score in ((3, 80), (2, 70), (1, 45)):
        HealthSnapshot.objects.create(customer=customer, score=score, taken_on=(NOW - days_ago * DAY).date())

    page = alice_client.get(customer.get_absolute_url()).content.decode()

    assert 'data-direction="down"' in page and "Worsening" in page
    assert "<polyline" in page and "80, 70, 45" in page


@pytest.mark.parametrize(("scores", "direction"), [([50, 60], "up"), ([60, 50], "down"), ([50, 70, 50], "steady")])
def test_the_arrow_compares_the_latest_score_with_the_oldest_shown(scores, direction):
    assert trend(scores) == direction


def test_the_sparkline_maps_100_to_the_top_and_0_to_the_bottom():
    assert sparkline_points([100, 0]) == "2.0,2.0 118.0,30.0"
