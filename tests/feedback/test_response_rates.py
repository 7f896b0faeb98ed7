"""Response tracking: sent, opened, answered, expired — on the customer page and per product / rep for managers."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from feedback.selectors import response_rates_by
from tests.factories import (
    CustomerFactory,
    ProductFactory,
    PurchaseFactory,
    SurveyFactory,
    SurveyInvitationFactory,
    SurveyResponseFactory,
    TouchPointFactory,
)


@pytest.fixture
def invitations(alice, bob):
    """alice: 3 sent (1 answered, 1 opened only, 1 expired) + 1 not sent yet; bob: 1 sent, answered."""
    now = timezone.now()
    kettle, toaster = ProductFactory(name="Kettle"), ProductFactory(name="Toaster")
    carla = CustomerFactory(owner=alice, name="Carla")
    dan = CustomerFactory(owner=bob, name="Dan")
    kettle_survey = SurveyFactory(product=kettle)
    checkup = TouchPointFactory(customer=carla, purchase=PurchaseFactory(customer=carla, product=toaster))
    answered = SurveyInvitationFactory(
        customer=carla, survey=kettle_survey, sent_at=now, opened_at=now, responded_at=now
    )
    SurveyResponseFactory(invitation=answered, nps=3)
    SurveyInvitationFactory(customer=carla, touchpoint=checkup, sent_at=now, opened_at=now)  # toaster, via check-up
    SurveyInvitationFactory(
        customer=carla,
        survey=kettle_survey,
        send_at=now - dt.timedelta(days=40),
        sent_at=now - dt.timedelta(days=40),
        expires_at=now - dt.timedelta(days=12),
    )
    SurveyInvitationFactory(customer=carla, send_at=now + dt.timedelta(days=1))  # not sent yet
    SurveyResponseFactory(invitation=SurveyInvitationFactory(customer=dan, sent_at=now, responded_at=now))
    return carla


def _rows(rows) -> dict[str, tuple]:
    return {row.label: (row.sent, row.opened, row.answered, row.expired, row.rate) for row in rows}


def test_rates_per_product_and_per_rep_in_one_query_each(invitations):
    since = timezone.now() - dt.timedelta(days=90)

    with CaptureQueriesContext(connection) as queries:
        by_product = _rows(response_rates_by("product", since=since))
    by_rep = _rows(response_rates_by("rep", since=since))

    assert len(queries) == 2  # the counts, then the names
    assert by_product == {
        "Kettle": (2, 1, 1, 1, 50),
        "Toaster": (1, 1, 0, 0, 0),
        "No single product": (1, 0, 1, 0, 100),
    }
    assert by_rep == {"Alice Archer": (3, 2, 1, 1, 33), "Bob Baker": (1, 0, 1, 0, 100)}


def test_the_manager_page_shows_rates_and_reps_cannot_open_it(invitations, mary_client, alice, client):
    page = mary_client.get(reverse("feedback:response_rates")).content.decode()
    client.force_login(alice)

    assert "Kettle" in page and "50%" in page and "Alice Archer" in page
    assert "1 low answer opened a call-back" not in page  # factories opened no loop
    assert client.get(reverse("feedback:response_rates")).status_code == 403


def test_the_customer_page_tracks_each_invitation(invitations, alice_client):
    page = alice_client.get(invitations.get_absolute_url()).content.decode()

    assert "Sent 3 · opened 2 · answered 1 · expired 1 · response rate 33%" in page
    for state in (">answered<", ">opened<", ">expired<", ">scheduled<"):
        assert state in page
    assert "NPS 3" in page
