"""The API's customer writes: PATCH through customer_update, the duplicate check on POST (409 unless
?force=true), and the managers' merge. Scoping as everywhere: another rep's id is a 404 and changes nothing."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from aftersales.audit.models import AuditAction, AuditEvent
from customers.models import Customer
from tests.factories import CustomerFactory, PurchaseFactory, TouchPointFactory

pytestmark = pytest.mark.django_db


def _client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


# --- PATCH ---------------------------------------------------------------------------------------


def test_a_rep_patches_their_customers_phone(alice):
    customer = CustomerFactory(owner=alice, name="Ana López", phone="+34611111111")

    response = _client(alice).patch(f"/api/customers/{customer.pk}/", {"phone": "+34 622 22 22 22"}, format="json")

    assert response.status_code == 200
    assert (response.json()["phone"], response.json()["name"]) == ("+34622222222", "Ana López")
    customer.refresh_from_db()
    assert customer.phone == "+34622222222"
    event = AuditEvent.objects.get(action=AuditAction.CHANGED, object_id=customer.pk)
    assert (event.actor, event.changes) == (alice, {"phone": ["+34611111111", "+34622222222"]})


def test_patching_another_reps_customer_is_a_404_and_changes_nothing(alice, bob):
    customer = CustomerFactory(owner=bob, name="Bob's customer", phone="+34611111111")

    response = _client(alice).patch(
        f"/api/customers/{customer.pk}/", {"name": "Mine", "phone": "+34 622 22 22 22"}, format="json"
    )

    assert response.status_code == 404
    assert "Bob" not in response.content.decode()
    customer.refresh_from_db()
    assert (customer.name, customer.phone) == ("Bob's customer", "+34611111111")
    assert not AuditEvent.objects.exists()


def test_a_bad_patch_is_a_400_with_a_message_per_field(alice):
    customer = CustomerFactory(owner=alice, name="Ana", email="ana@example.com")

    response = _client(alice).patch(
        f"/api/customers/{customer.pk}/",
        {"name": "", "email": "ana@", "phone": "612 345", "timezone": "Mars/Olympus", "language": "fr"},
        format="json",
    )

    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"name", "email", "phone", "timezone", "language"}
    assert all(isinstance(messages, list) and messages for messages in body.values())
    customer.refresh_from_db()
    assert (customer.name, customer.email) == ("Ana", "ana@example.com")


def test_a_number_that_does_not_exist_is_a_400_on_phone(alice):
    customer = CustomerFactory(owner=alice)

    response = _client(alice).patch(f"/api/customers/{customer.pk}/", {"phone": "+34 12"}, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["phone"]
    assert response.json()["phone"][0].startswith("Phone: +34 12 is not a valid phone number")


def test_a_rep_cannot_give_their_customer_away_a_manager_can(alice, bob, mary):
    customer = CustomerFactory(owner=alice)
    scheduled = TouchPointFactory(customer=customer)

    refused = _client(alice).patch(f"/api/customers/{customer.pk}/", {"owner": "bob"}, format="json")
    customer.refresh_from_db()
    assert refused.status_code == 403 and customer.owner == alice

    given = _client(mary).patch(f"/api/customers/{customer.pk}/", {"owner": "bob"}, format="json")
    customer.refresh_from_db()
    scheduled.refresh_from_db()
    assert given.status_code == 200 and given.json()["owner"] == "bob"
    assert customer.owner == scheduled.assignee == bob


def test_the_external_reference_is_not_changed_by_patch(alice):
    customer = CustomerFactory(owner=alice, external_ref="SHOP-C-1")

    response = _client(alice).patch(
        f"/api/customers/{customer.pk}/", {"external_ref": "OTHER", "company": "Ruiz SL"}, format="json"
    )

    customer.refresh_from_db()
    assert response.status_code == 200
    assert (customer.external_ref, customer.company) == ("SHOP-C-1", "Ruiz SL")


# --- POST and duplicates -------------------------------------------------------------------------


def test_a_duplicate_email_or_phone_is_a_409_listing_who_has_it(alice, bob):
    bobs = CustomerFactory(owner=bob, name="Ana López", email="ana@example.com")
    mine = CustomerFactory(owner=alice, name="Ana L.", phone="+34612345678")
    client = _client(alice)
    body = {"name": "Ana López", "email": "ANA@example.com", "phone": "+34 612 345 678"}

    conflict = client.post("/api/customers/", body, format="json")

    assert conflict.status_code == 409
    assert conflict.json()["duplicates"] == [
        {"id": mine.pk, "name": "Ana L.", "owner": "alice", "matched": ["phone"]},
        {"id": None, "name": "Ana López", "owner": "bob", "matched": ["email"]},
    ]
    assert str(bobs.pk) not in conflict.content.decode().replace(f'"id":{mine.pk}', "")
    assert Customer.objects.count() == 2

    forced = client.post("/api/customers/?force=true", body, format="json")

    assert forced.status_code == 201 and Customer.objects.count() == 3


def test_a_known_external_reference_is_no_duplicate_but_the_customer_on_file(alice):
    customer = CustomerFactory(owner=alice, email="ana@example.com", external_ref="SHOP-C-1")

    again = _client(alice).post(
        "/api/customers/", {"name": "Ana", "email": "ana@example.com", "external_ref": "SHOP-C-1"}, format="json"
    )

    assert again.status_code == 200 and again.json()["id"] == customer.pk


def test_a_posted_phone_is_stored_in_e164_and_a_bad_one_is_named(alice):
    client = _client(alice)

    created = client.post("/api/customers/", {"name": "Ana", "phone": "+34 612-345-678"}, format="json")
    refused = client.post("/api/customers/", {"name": "Ana", "phone": "612345678"}, format="json")

    assert created.status_code == 201 and created.json()["phone"] == "+34612345678"
    assert refused.status_code == 400 and list(refused.json()) == ["phone"]


# --- Merge ---------------------------------------------------------------------------------------


def test_a_manager_merges_through_the_api(alice, bob, mary):
    survivor = CustomerFactory(owner=alice, name="Ana López")
    duplicate = CustomerFactory(owner=bob, name="Ana Lopez")
    PurchaseFactory(customer=duplicate)

    response = _client(mary).post(f"/api/customers/{duplicate.pk}/merge/", {"into": survivor.pk}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert (body["customer"]["id"], body["merged_id"], body["moved"]["purchases"]) == (survivor.pk, duplicate.pk, 1)
    assert survivor.purchases.count() == 1
    assert _client(mary).get(f"/api/customers/{duplicate.pk}/").status_code == 404
    listed = _client(mary).get("/api/customers/").json()["results"]
    assert [row["id"] for row in listed] == [survivor.pk]


def test_a_rep_cannot_merge_through_the_api(alice):
    survivor = CustomerFactory(owner=alice)
    duplicate = CustomerFactory(owner=alice)

    response = _client(alice).post(f"/api/customers/{duplicate.pk}/merge/", {"into": survivor.pk}, format="json")

    assert response.status_code == 403
    duplicate.refresh_from_db()
    assert duplicate.merged_into is None


def test_merging_a_customer_into_itself_or_nothing_is_a_400(mary):
    customer = CustomerFactory()
    client = _client(mary)

    itself = client.post(f"/api/customers/{customer.pk}/merge/", {"into": customer.pk}, format="json")
    nothing = client.post(f"/api/customers/{customer.pk}/merge/", {"into": 10**12}, format="json")

    assert itself.status_code == 400 and list(itself.json()) == ["into"]
    assert nothing.status_code == 400 and list(nothing.json()) == ["into"]


def test_the_schema_documents_patch_the_409_and_merge(db):
    paths = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json").json()["paths"]

    assert "patch" in paths["/api/customers/{id}/"] and "put" not in paths["/api/customers/{id}/"]
    post = paths["/api/customers/"]["post"]
    assert "409" in post["responses"]
    assert any(param["name"] == "force" for param in post["parameters"])
    assert "post" in paths["/api/customers/{id}/merge/"]
