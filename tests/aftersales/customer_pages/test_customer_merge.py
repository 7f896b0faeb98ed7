"""Merging a duplicate into the customer that stays: every kind of row moves, both ids stay in the trail,
the duplicate disappears from lists and searches and its page redirects. Managers only."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from aftersales.audit.models import AuditAction, AuditEvent
from aftersales.audit.services import audit_record
from aftersales.customer_pages.merge import customers_merge, merge_preview
from aftersales.dashboard.selectors import headline
from aftersales.gdpr.services import customer_erase
from aftersales.mail.models import OutboxEmail
from customers.models import Customer, HealthSnapshot, Purchase, RiskFlag
from customers.services import customer_create
from feedback.models import ConsentAction, EmailConsentEvent, SurveyInvitation, SurveyResponse
from feedback.services.unsubscribe import unsubscribe_token
from tests.factories import (
    CustomerFactory,
    OutboxEmailFactory,
    PurchaseFactory,
    RiskFlagFactory,
    SurveyResponseFactory,
    TouchPointFactory,
)
from touchpoints.careplan import careplan_token
from touchpoints.models import Status, TouchPoint

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


@pytest.fixture(autouse=True)
def frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture
def ana(alice):
    return CustomerFactory(
        owner=alice, name="Ana López", company="", email="ana@example.com", phone="", external_ref=None,
        last_contact_at=NOW - 40 * DAY,
    )  # fmt: skip


@pytest.fixture
def duplicate(bob):
    """Bob's record of the same person, with one of everything a customer has."""
    customer = CustomerFactory(
        owner=bob, name="Ana Lopez", company="López SL", email="ANA@example.com", phone="+34612345678",
        external_ref="SHOP-C-9", notes="Prefers calls after 17:00", last_contact_at=NOW - 3 * DAY,
    )  # fmt: skip
    PurchaseFactory(customer=customer)
    TouchPointFactory(customer=customer, due_at=NOW + 2 * DAY)  # scheduled, bob's
    TouchPointFactory(customer=customer, status=Status.DONE, completed_at=NOW - 3 * DAY, due_at=NOW - 3 * DAY)
    SurveyResponseFactory(invitation__customer=customer, nps=3)
    RiskFlagFactory(customer=customer, reason="detractor", detail="NPS 3", raised_at=NOW - 2 * DAY)
    RiskFlagFactory(customer=customer, reason="gone_quiet", raised_at=NOW - 9 * DAY, resolved_at=NOW - 3 * DAY)
    EmailConsentEvent.objects.create(customer=customer, action=ConsentAction.OPTED_OUT, at=NOW - 5 * DAY)
    EmailConsentEvent.objects.create(customer=customer, action=ConsentAction.RESUBSCRIBED, at=NOW - 4 * DAY)
    OutboxEmailFactory(customer=customer, subject="Your care plan")
    audit_record(actor=bob, action=AuditAction.CHANGED, obj=customer, changes={"phone": ["", "+34612345678"]})
    HealthSnapshot.objects.create(customer=customer, score=40, taken_on=NOW.date() - DAY)
    HealthSnapshot.objects.create(customer=customer, score=45, taken_on=NOW.date())
    return customer


def test_the_preview_counts_what_will_move(ana, duplicate):
    HealthSnapshot.objects.create(customer=ana, score=70, taken_on=NOW.date())

    moved = merge_preview(survivor=ana, merged=duplicate)

    assert dict(moved.lines()) == {
        "purchases": 1,
        "check-ups and contacts": 2,
        "survey invitations": 1,
        "survey answers": 1,
        "risk flags": 2,
        "consent changes": 2,
        "e-mails": 1,
        "audit events": 1,
        "daily health scores": 1,
    }


def test_every_kind_of_row_moves_to_the_survivor(ana, duplicate, alice, mary):
    RiskFlagFactory(customer=ana, reason="detractor", detail="NPS 2", raised_at=NOW - 1 * DAY)
    HealthSnapshot.objects.create(customer=ana, score=70, taken_on=NOW.date())
    before = merge_preview(survivor=ana, merged=duplicate)

    moved = customers_merge(survivor=ana, merged=duplicate, by=mary)

    assert moved == before
    for model in (Purchase, TouchPoint, SurveyInvitation, SurveyResponse, RiskFlag, EmailConsentEvent, OutboxEmail):
        assert not model.objects.filter(customer=duplicate).exists(), model
    assert ana.purchases.count() == 1
    assert TouchPoint.objects.filter(customer=ana).count() == 2
    assert SurveyInvitation.objects.filter(customer=ana).count() == SurveyResponse.objects.filter(customer=ana).count()
    assert EmailConsentEvent.objects.filter(customer=ana).count() == 2
    assert OutboxEmail.objects.get(customer=ana).subject == "Your care plan"
    # The scheduled check-up was bob's (the duplicate's rep): now alice's; the done one stays bob's (history).
    assert dict(TouchPoint.objects.filter(customer=ana).values_list("status", "assignee__username")) == {
        Status.SCHEDULED: "alice",
        Status.DONE: "bob",
    }


def _history(customer, count: int) -> None:
    for n in range(count):
        PurchaseFactory(customer=customer)
        TouchPointFactory(customer=customer, due_at=NOW + n * DAY)
        SurveyResponseFactory(invitation__customer=customer)
        RiskFlagFactory(customer=customer, reason="gone_quiet", raised_at=NOW - 9 * DAY, resolved_at=NOW - 8 * DAY)
        OutboxEmailFactory(customer=customer)
        HealthSnapshot.objects.create(customer=customer, score=50, taken_on=NOW.date() - n * DAY)


def test_a_merge_costs_the_same_queries_however_much_moves(mary, alice):
    def merge_queries(count: int) -> int:
        survivor, duplicate = CustomerFactory(owner=alice), CustomerFactory(owner=alice)
        RiskFlagFactory(customer=survivor, reason="detractor")
        RiskFlagFactory(customer=duplicate, reason="detractor")
        _history(duplicate, count)
        manager = type(mary).objects.get(pk=mary.pk)  # roles are cached on the user object: start afresh
        with CaptureQueriesContext(connection) as queries:
            customers_merge(survivor=survivor, merged=duplicate, by=manager)
        assert survivor.purchases.count() == count
        return len(queries.captured_queries)

    assert merge_queries(2) == merge_queries(30)


def test_one_open_flag_per_reason_stays_with_both_details(ana, duplicate, mary):
    kept = RiskFlagFactory(customer=ana, reason="detractor", detail="NPS 2", raised_at=NOW - DAY)
    theirs = RiskFlag.objects.get(customer=duplicate, reason="detractor")

    customers_merge(survivor=ana, merged=duplicate, by=mary)

    assert list(ana.flags.open().values_list("pk", "reason")) == [(kept.pk, "detractor")]
    kept.refresh_from_db()
    theirs.refresh_from_db()
    assert kept.detail == "NPS 2 · NPS 3"
    assert (theirs.customer, theirs.resolved_at) == (ana, NOW)
    assert theirs.resolution == f"Merged into flag #{kept.pk} (customer #{ana.pk})."
    assert ana.flags.count() == 3


def test_a_day_with_a_score_on_both_sides_keeps_the_survivors(ana, duplicate, mary):
    HealthSnapshot.objects.create(customer=ana, score=70, taken_on=NOW.date())

    customers_merge(survivor=ana, merged=duplicate, by=mary)

    assert dict(ana.health_snapshots.values_list("taken_on", "score")) == {NOW.date() - DAY: 40, NOW.date(): 70}


def test_the_survivor_keeps_its_details_and_fills_its_blanks(ana, duplicate, mary):
    customers_merge(survivor=ana, merged=duplicate, by=mary)

    ana.refresh_from_db()
    assert (ana.name, ana.email, ana.company, ana.phone, ana.external_ref) == (
        "Ana López",
        "ana@example.com",
        "López SL",
        "+34612345678",
        "SHOP-C-9",
    )
    assert ana.notes == "Prefers calls after 17:00"
    assert ana.last_contact_at == NOW - 3 * DAY, "the later contact of the two"
    assert ana.health_due_at == NOW


def test_the_duplicate_keeps_nothing_personal_and_points_at_the_survivor(ana, duplicate, mary):
    customers_merge(survivor=ana, merged=duplicate, by=mary)

    duplicate.refresh_from_db()
    assert (duplicate.merged_into, duplicate.merged_at) == (ana, NOW)
    assert (duplicate.name, duplicate.email, duplicate.phone, duplicate.company, duplicate.notes) == (
        f"Merged into customer #{ana.pk}",
        "",
        "",
        "",
        "",
    )
    assert (duplicate.quiet_after, duplicate.health_due_at, duplicate.external_ref) == (None, None, None)


def test_the_audit_keeps_both_ids(ana, duplicate, mary):
    customers_merge(survivor=ana, merged=duplicate, by=mary)

    merges = AuditEvent.objects.filter(action=AuditAction.MERGED).order_by("pk")
    assert [(e.actor, e.object_id, e.customer_id) for e in merges] == [
        (mary, ana.pk, ana.pk),
        (mary, duplicate.pk, ana.pk),
    ]
    survivor_event, duplicate_event = merges
    assert survivor_event.changes["merged_customer_id"] == [None, duplicate.pk]
    assert survivor_event.changes["phone"] == ["", "+34612345678"]
    assert duplicate_event.changes["merged_into_id"] == [None, ana.pk]
    assert duplicate_event.changes["name"] == ["Ana Lopez", f"Merged into customer #{ana.pk}"]
    # The duplicate's own history now shows on the survivor's page, still naming the duplicate's id.
    moved = AuditEvent.objects.get(action=AuditAction.CHANGED, object_id=duplicate.pk)
    assert moved.customer_id == ana.pk


def test_an_opt_out_on_either_side_holds_for_the_survivor(ana, duplicate, mary):
    Customer.objects.filter(pk=duplicate.pk).update(email_opt_out=True, email_opt_out_at=NOW - 4 * DAY)

    customers_merge(survivor=ana, merged=duplicate, by=mary)

    ana.refresh_from_db()
    assert (ana.email_opt_out, ana.email_opt_out_at) == (True, NOW - 4 * DAY)


def test_only_managers_merge_and_never_a_customer_into_itself(ana, duplicate, alice, mary):
    with pytest.raises(PermissionDenied):
        customers_merge(survivor=ana, merged=duplicate, by=alice)
    with pytest.raises(ValidationError, match="cannot be merged into itself"):
        customers_merge(survivor=ana, merged=ana, by=mary)

    duplicate.refresh_from_db()
    assert duplicate.merged_into is None and duplicate.purchases.count() == 1
    assert not AuditEvent.objects.filter(action=AuditAction.MERGED).exists()


def test_a_merged_customer_cannot_be_merged_again_nor_be_merged_into(ana, duplicate, mary):
    third = CustomerFactory()
    customers_merge(survivor=ana, merged=duplicate, by=mary)

    with pytest.raises(ValidationError, match="already merged"):
        customers_merge(survivor=third, merged=duplicate, by=mary)
    with pytest.raises(ValidationError, match="already merged"):
        customers_merge(survivor=duplicate, merged=third, by=mary)


def test_a_chain_of_merges_stays_one_step_long(ana, duplicate, mary):
    third = CustomerFactory()
    customers_merge(survivor=duplicate, merged=third, by=mary)
    customers_merge(survivor=ana, merged=duplicate, by=mary)

    third.refresh_from_db()
    assert third.merged_into == ana


def test_the_duplicates_shop_reference_reaches_the_survivor(ana, duplicate, mary, bob):
    other_ref = CustomerFactory(external_ref="SHOP-C-1", email="x@example.com")
    customers_merge(survivor=other_ref, merged=duplicate, by=mary)  # the survivor has a ref: the duplicate keeps its

    found, created = customer_create(owner=bob, name="Ana Lopez", external_ref="SHOP-C-9")

    assert (found, created) == (other_ref, False)


def test_erasing_the_survivor_clears_the_reference_its_duplicates_kept(mary):
    survivor = CustomerFactory(external_ref="SHOP-C-1")
    duplicate = CustomerFactory(external_ref="SHOP-C-9")
    customers_merge(survivor=survivor, merged=duplicate, by=mary)

    customer_erase(customer=survivor, by=mary)

    duplicate.refresh_from_db()
    assert duplicate.external_ref is None


def test_links_mailed_before_the_merge_open_the_customer_kept(ana, duplicate, mary, client):
    unsubscribe = reverse("feedback:unsubscribe", args=[unsubscribe_token(duplicate)])
    care_plan = reverse("careplan", args=[careplan_token(duplicate)])
    customers_merge(survivor=ana, merged=duplicate, by=mary)

    client.post(unsubscribe, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
    page = client.get(care_plan)

    ana.refresh_from_db()
    assert ana.email_opt_out, "the person asked for no more mail: the customer kept is opted out"
    assert page.status_code == 200 and "Ana López" in page.content.decode()


# --- The pages ----------------------------------------------------------------------------------


def test_a_merged_customer_is_in_no_list_or_search_and_its_page_opens_the_survivor(ana, duplicate, mary_client, mary):
    customers_merge(survivor=ana, merged=duplicate, by=mary)

    listing = mary_client.get(reverse("customers:list"), {"q": "Merged"})
    everyone = mary_client.get(reverse("customers:list"))
    opened = mary_client.get(duplicate.get_absolute_url())

    assert list(listing.context["customers"]) == []
    assert [c.pk for c in everyone.context["customers"]] == [ana.pk]
    assert headline(NOW)["customer_count"] == 1
    assert opened.status_code == 302 and opened["Location"] == ana.get_absolute_url()


def test_a_rep_is_redirected_only_to_a_survivor_they_may_open(ana, duplicate, mary, bob, client):
    customers_merge(survivor=ana, merged=duplicate, by=mary)  # bob's duplicate into alice's customer
    client.force_login(bob)

    assert client.get(duplicate.get_absolute_url()).status_code == 404


def test_a_manager_finds_the_survivor_sees_what_moves_and_merges(ana, duplicate, mary_client):
    url = reverse("customers:merge", args=[duplicate.pk])

    opened = mary_client.get(url)
    assert [c.pk for c in opened.context["suggested"]] == [ana.pk], "same e-mail: suggested at once"
    found = mary_client.get(url, {"q": "lópez"})
    assert ana in found.context["candidates"] and duplicate not in found.context["candidates"]
    confirm = mary_client.get(url, {"into": ana.pk})
    page = confirm.content.decode()
    assert "Purchases: 1" in page and "Check-ups and contacts: 2" in page and "Risk flags: 2" in page
    assert not Customer.objects.filter(merged_into__isnull=False).exists(), "opening the confirmation merges nothing"

    merged = mary_client.post(url, {"into": ana.pk}, follow=True)

    assert merged.redirect_chain == [(ana.get_absolute_url(), 302)]
    duplicate.refresh_from_db()
    assert duplicate.merged_into == ana
    text = merged.content.decode()
    assert f"Customer #{duplicate.pk} was merged into Ana López" in text
    assert f"merged in:</span> customer #{duplicate.pk}" in text


def test_a_rep_cannot_open_or_post_the_merge_page(ana, alice_client):
    other = CustomerFactory(owner=ana.owner)
    url = reverse("customers:merge", args=[other.pk])

    assert alice_client.get(url).status_code == 403
    assert alice_client.post(url, {"into": ana.pk}).status_code == 403
    other.refresh_from_db()
    assert other.merged_into is None


def test_the_merge_page_refuses_the_customer_itself(ana, mary_client):
    response = mary_client.post(reverse("customers:merge", args=[ana.pk]), {"into": ana.pk})

    assert response.status_code == 200
    assert "A customer cannot be merged into itself." in response.content.decode()
    ana.refresh_from_db()
    assert ana.merged_into is None


def test_deleting_the_survivor_takes_its_merged_duplicates_along(mary):
    """seed_demo's reset deletes demo customers: a merged one must not block it or outlive its survivor."""
    survivor, duplicate = CustomerFactory(), CustomerFactory()
    customers_merge(survivor=survivor, merged=duplicate, by=mary)

    Customer.objects.filter(pk=survivor.pk).delete()

    assert not Customer.objects.filter(pk__in=[survivor.pk, duplicate.pk]).exists()
