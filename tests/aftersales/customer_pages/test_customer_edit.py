"""Adding and editing a customer: phone numbers in E.164, the duplicate warning, scope, and the trail in words.

The services first (customer_create, customer_update, customer_duplicates), then the pages. The API's side is
tests/test_customer_api_edit.py; merging is tests/test_customer_merge.py.
"""

from __future__ import annotations

import html
import re

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse

from aftersales.audit.models import AuditAction, AuditEvent
from customers.models import Customer
from customers.phones import phone_normalise
from customers.selectors import customer_duplicates
from customers.services import customer_create, customer_update
from tests.factories import CustomerFactory, RepFactory, TouchPointFactory
from touchpoints.models import Status
from touchpoints.services import customer_edit

pytestmark = pytest.mark.django_db


def _text(response) -> str:
    """The page's visible text, tags removed and whitespace squeezed: what a reader sees."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def _changes(customer) -> list[dict]:
    return list(
        AuditEvent.objects.filter(object_type="customers.customer", object_id=customer.pk, action=AuditAction.CHANGED)
        .order_by("pk")
        .values_list("changes", flat=True)
    )


# --- Phone numbers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    ["+34 612 34 56 78", "+34 612-345-678", "+34612345678", " +34 (612) 345 678 "],
)
def test_an_international_number_is_stored_in_e164(typed):
    assert phone_normalise(typed) == "+34612345678"


def test_a_national_number_needs_a_default_region(settings):
    settings.PHONE_DEFAULT_REGION = None
    with pytest.raises(ValidationError, match=r"start with \+ and the country code"):
        phone_normalise("612 345 678")

    settings.PHONE_DEFAULT_REGION = "ES"
    assert phone_normalise("612 345 678") == "+34612345678"
    assert phone_normalise("0034 612 345 678") == "+34612345678"
    assert phone_normalise("+44 20 7946 0958") == "+442079460958", "an international number keeps its country"


@pytest.mark.parametrize("typed", ["+34 12", "+34 612 345 678 999 000", "call me", "+999 123 456 789"])
def test_what_is_not_a_phone_number_is_refused_naming_the_field(typed):
    with pytest.raises(ValidationError) as refused:
        phone_normalise(typed)

    assert refused.value.messages[0].startswith("Phone:")


# --- customer_create ----------------------------------------------------------------------------


def test_a_new_customers_phone_is_stored_in_e164_and_bad_fields_are_named(alice):
    customer, created = customer_create(owner=alice, name=" Ana López ", phone="+34 612 34 56 78", by=alice)

    assert created and (customer.name, customer.phone) == ("Ana López", "+34612345678")
    with pytest.raises(ValidationError) as refused:
        customer_create(
            owner=alice, name="", email="ana@", phone="612", language="fr", timezone="Mars/Olympus", by=alice
        )
    assert set(refused.value.message_dict) == {"name", "email", "phone", "language", "timezone"}
    assert Customer.objects.count() == 1


# --- customer_update ----------------------------------------------------------------------------


def test_a_rep_fixes_a_wrong_phone_number_and_the_trail_has_old_and_new(alice):
    customer = CustomerFactory(owner=alice, phone="+34611111111")

    saved = customer_update(customer=customer, by=alice, phone="+34 622 22 22 22")

    customer.refresh_from_db()
    assert saved.phone == customer.phone == "+34622222222"
    assert _changes(customer) == [{"phone": ["+34611111111", "+34622222222"]}]
    event = AuditEvent.objects.get(object_id=customer.pk, action=AuditAction.CHANGED)
    assert (event.actor, event.customer) == (alice, customer)


def test_an_edit_that_changes_nothing_records_nothing(alice):
    customer = CustomerFactory(owner=alice, name="Ana López", phone="+34611111111", email="ana@example.com")

    customer_update(customer=customer, by=alice, name="Ana López ", phone="+34 611 11 11 11", email="ana@example.com")

    assert _changes(customer) == []


def test_an_old_phone_number_left_as_it_was_is_not_checked_again(alice):
    """Numbers from before the check stay until someone types them again: editing the name still works."""
    customer = CustomerFactory(owner=alice, phone="555-0100")

    customer_update(customer=customer, by=alice, name="Renamed", phone="555-0100")

    customer.refresh_from_db()
    assert (customer.name, customer.phone) == ("Renamed", "555-0100")
    with pytest.raises(ValidationError) as refused:
        customer_update(customer=customer, by=alice, phone="555-0101")
    assert list(refused.value.message_dict) == ["phone"]


def test_bad_values_are_refused_per_field_and_nothing_is_written(alice):
    customer = CustomerFactory(owner=alice, name="Ana", email="ana@example.com")

    with pytest.raises(ValidationError) as refused:
        customer_update(
            customer=customer, by=alice, name="", email="not-an-email", phone="12", language="fr", timezone="Nowhere"
        )

    assert set(refused.value.message_dict) == {"name", "email", "phone", "language", "timezone"}
    customer.refresh_from_db()
    assert (customer.name, customer.email) == ("Ana", "ana@example.com")
    assert _changes(customer) == []


def test_a_rep_cannot_edit_another_reps_customer(alice, bob):
    customer = CustomerFactory(owner=bob, name="Bob's")

    with pytest.raises(PermissionDenied):
        customer_update(customer=customer, by=alice, name="Mine now")

    customer.refresh_from_db()
    assert customer.name == "Bob's" and _changes(customer) == []


def test_only_a_manager_gives_a_customer_to_another_rep(alice, bob, mary):
    customer = CustomerFactory(owner=alice)

    with pytest.raises(PermissionDenied):
        customer_update(customer=customer, by=alice, owner=bob)
    customer_update(customer=customer, by=alice, owner=alice)  # naming yourself changes nothing: allowed
    customer_update(customer=customer, by=mary, owner=bob)

    customer.refresh_from_db()
    assert customer.owner == bob
    assert _changes(customer) == [{"owner_id": [alice.pk, bob.pk]}]


def test_a_customer_is_given_only_to_an_active_rep(alice, mary):
    customer = CustomerFactory(owner=alice)
    gone = RepFactory(username="gone", is_active=False)

    with pytest.raises(ValidationError) as refused:
        customer_update(customer=customer, by=mary, owner=gone)

    assert list(refused.value.message_dict) == ["owner"]


def test_the_scheduled_checkups_follow_a_new_rep_done_ones_stay(alice, bob, mary):
    customer = CustomerFactory(owner=alice)
    scheduled = TouchPointFactory(customer=customer)
    done = TouchPointFactory(customer=customer, status=Status.DONE, completed_at=scheduled.due_at)

    customer_edit(customer=customer, by=mary, owner=bob, name=customer.name)

    scheduled.refresh_from_db()
    done.refresh_from_db()
    assert (scheduled.assignee, done.assignee) == (bob, alice)


def test_customer_update_takes_only_the_editable_fields(alice):
    customer = CustomerFactory(owner=alice)

    with pytest.raises(TypeError, match="health_score"):
        customer_update(customer=customer, by=alice, health_score=100)


# --- customer_duplicates ------------------------------------------------------------------------


def test_duplicates_are_found_by_email_in_any_case_and_by_phone_in_any_format(alice, bob):
    ana = CustomerFactory(owner=bob, name="Ana López", email="Ana.Lopez@Example.com", phone="+34612345678")
    CustomerFactory(owner=bob, name="Someone else", email="other@example.com", phone="+34699999999")

    assert list(customer_duplicates(email="ana.lopez@example.COM ", phone="")) == [ana]
    assert list(customer_duplicates(email="", phone="+34 612 34 56 78")) == [ana]
    assert list(customer_duplicates(email="new@example.com", phone="+34612345678")) == [ana]
    assert list(customer_duplicates(email="ana.lopez@example.com", phone="", exclude_pk=ana.pk)) == []
    assert list(customer_duplicates(email="", phone="")) == []
    assert list(customer_duplicates(email="", phone="not a number")) == []


def test_an_erased_customer_is_nobodys_duplicate(alice):
    CustomerFactory(owner=alice, email="ana@example.com", erased_at="2026-01-01T00:00:00Z")

    assert list(customer_duplicates(email="ana@example.com", phone="")) == []


# --- The pages ----------------------------------------------------------------------------------

NEW = {"name": "Ana López", "company": "", "email": "ana@example.com", "phone": "", "language": "es"}
NEW_TZ = {"timezone": "Europe/Madrid"}


def test_the_list_and_the_customer_page_lead_to_new_and_edit(alice_client, alice):
    customer = CustomerFactory(owner=alice)

    listing = alice_client.get(reverse("customers:list")).content.decode()
    page = alice_client.get(customer.get_absolute_url()).content.decode()

    assert f'href="{reverse("customers:create")}"' in listing
    assert f'href="{reverse("customers:edit", args=[customer.pk])}"' in page
    assert reverse("customers:merge", args=[customer.pk]) not in page, "merging is for managers"


def test_a_rep_adds_a_customer_who_is_theirs(alice_client, alice, bob):
    form = alice_client.get(reverse("customers:create"))
    assert form.status_code == 200 and 'name="owner"' not in form.content.decode()

    response = alice_client.post(
        reverse("customers:create"), NEW | NEW_TZ | {"phone": "+34 612 34 56 78", "owner": bob.pk}
    )

    customer = Customer.objects.get()
    assert response.status_code == 302 and response["Location"] == customer.get_absolute_url()
    assert (customer.owner, customer.phone, customer.language, customer.timezone) == (
        alice,
        "+34612345678",
        "es",
        "Europe/Madrid",
    )
    assert AuditEvent.objects.filter(action=AuditAction.CREATED, object_id=customer.pk, actor=alice).exists()


def test_a_bad_phone_is_shown_on_its_field_and_nothing_is_added(alice_client):
    response = alice_client.post(reverse("customers:create"), NEW | NEW_TZ | {"phone": "612 345"})

    assert response.status_code == 200
    assert response.context["form"].errors == {
        "phone": ["Phone: start with + and the country code, e.g. +34 612 345 678."]
    }
    assert not Customer.objects.exists()


def test_a_duplicate_is_shown_then_added_anyway(alice_client, alice, bob):
    """Another rep's customer is named with their rep, with no link; the rep's own is linked. Nothing is
    added until "Create anyway" is ticked."""
    bobs = CustomerFactory(owner=bob, name="Ana López", email="ANA@example.com")
    mine = CustomerFactory(owner=alice, name="Ana L.", phone="+34612345678")

    warned = alice_client.post(reverse("customers:create"), NEW | NEW_TZ | {"phone": "+34 612 345 678"})

    assert warned.status_code == 200 and Customer.objects.count() == 2
    text = _text(warned)
    assert "This looks like Ana López (Bob Baker’s customer): ask them before adding another. · same e-mail" in text
    assert "This looks like Ana L. (yours) — open it? · same phone" in text
    content = warned.content.decode()
    assert f'href="{mine.get_absolute_url()}"' in content
    assert bobs.get_absolute_url() not in content, "no link to a page that is a 404 for alice"
    assert 'name="create_anyway"' in content

    added = alice_client.post(reverse("customers:create"), NEW | NEW_TZ | {"create_anyway": "on"})

    assert added.status_code == 302 and Customer.objects.filter(owner=alice, name="Ana López").count() == 1


def test_a_manager_sees_every_duplicate_linked_and_adds_a_customer_for_a_rep(mary_client, alice, bob):
    bobs = CustomerFactory(owner=bob, name="Ana López", email="ana@example.com")

    warned = mary_client.post(reverse("customers:create"), NEW | NEW_TZ | {"owner": alice.pk})
    assert f'href="{bobs.get_absolute_url()}"' in warned.content.decode()
    assert "Ana López (Bob Baker’s customer) — open it?" in _text(warned)

    mary_client.post(reverse("customers:create"), NEW | NEW_TZ | {"owner": alice.pk, "create_anyway": "on"})
    assert Customer.objects.get(owner=alice).name == "Ana López"


def test_a_rep_edits_a_customers_phone_and_sees_it_on_the_timeline(alice_client, alice):
    customer = CustomerFactory(owner=alice, name="Ana López", phone="+34611111111", language="es")
    url = reverse("customers:edit", args=[customer.pk])

    form = alice_client.get(url)
    assert form.context["form"].initial["phone"] == "+34 611 11 11 11"
    data = {"name": "Ana López", "company": customer.company, "email": customer.email, "language": "es"}
    response = alice_client.post(url, data | {"phone": "+34 622 22 22 22", "timezone": "UTC"})

    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.phone == "+34622222222"
    text = _text(alice_client.get(customer.get_absolute_url()))
    assert "Phone +34 622 22 22 22" in text
    assert "Details changed by Alice Archer" in text
    assert "phone: +34 611 11 11 11 → +34 622 22 22 22" in text


def test_the_audit_names_the_rep_and_the_language_in_words(mary_client, alice, bob, mary):
    customer = CustomerFactory(owner=alice, language="en")

    customer_edit(customer=customer, by=mary, owner=bob, language="es")

    audit = _text(mary_client.get(customer.get_absolute_url()))
    audit = audit[audit.index("Audit") :]
    assert "rep: Alice Archer → Bob Baker" in audit
    assert "language: English → Español" in audit
    assert str(alice.pk) not in re.findall(r"rep: ([^→]+)", audit)[0]
    assert _changes(customer) == [{"owner_id": [alice.pk, bob.pk], "language": ["en", "es"]}]


def test_a_manager_gives_a_customer_to_another_rep_from_the_form(mary_client, alice, bob):
    customer = CustomerFactory(owner=alice, timezone="UTC", language="en")
    scheduled = TouchPointFactory(customer=customer)
    data = {"name": customer.name, "email": customer.email, "language": "en", "timezone": "UTC", "owner": bob.pk}

    assert mary_client.post(reverse("customers:edit", args=[customer.pk]), data).status_code == 302

    customer.refresh_from_db()
    scheduled.refresh_from_db()
    assert customer.owner == scheduled.assignee == bob


def test_a_rep_cannot_open_or_post_the_edit_form_of_another_reps_customer(alice_client, bob):
    customer = CustomerFactory(owner=bob, name="Bob's customer", phone="+34611111111")
    url = reverse("customers:edit", args=[customer.pk])
    data = {"name": "Mine", "language": "en", "timezone": "UTC", "phone": "+34 622 22 22 22"}

    assert alice_client.get(url).status_code == 404
    assert alice_client.post(url, data).status_code == 404
    customer.refresh_from_db()
    assert (customer.name, customer.phone) == ("Bob's customer", "+34611111111")


def test_the_forms_refuse_a_post_without_the_csrf_token(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    customer = CustomerFactory(owner=alice, name="Ana")

    created = client.post(reverse("customers:create"), NEW | NEW_TZ)
    edited = client.post(reverse("customers:edit", args=[customer.pk]), NEW | NEW_TZ | {"name": "Forged"})

    assert (created.status_code, edited.status_code) == (403, 403)
    assert list(Customer.objects.values_list("name", flat=True)) == ["Ana"]


def test_an_erased_customer_cannot_be_edited(alice_client, alice):
    customer = CustomerFactory(owner=alice, name="Erased customer #1", erased_at="2026-01-01T00:00:00Z")

    response = alice_client.post(reverse("customers:edit", args=[customer.pk]), NEW | NEW_TZ)

    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.name == "Erased customer #1"
    with pytest.raises(ValidationError):
        customer_update(customer=customer, by=alice, name="Back")


@pytest.mark.usefixtures("compiled_messages")
def test_the_duplicate_warning_speaks_the_users_language(alice_client, bob):
    CustomerFactory(owner=bob, name="Ana López", email="ana@example.com")

    spanish = alice_client.post(reverse("customers:create"), NEW | NEW_TZ, HTTP_ACCEPT_LANGUAGE="es")
    russian = alice_client.post(reverse("customers:create"), NEW | NEW_TZ, HTTP_ACCEPT_LANGUAGE="ru")

    assert "Parece ser Ana López (cliente de Bob Baker): pregúntale antes de añadir otro." in _text(spanish)
    assert "Похоже, это Ana López (клиент менеджера Bob Baker)" in _text(russian)


def test_names_in_the_warning_and_the_timeline_are_escaped(alice_client, alice):
    customer = CustomerFactory(owner=alice, name="<b>Ana</b>", email="ana@example.com")
    customer_update(customer=customer, by=alice, company="<i>Ruiz</i>")

    warned = alice_client.post(reverse("customers:create"), NEW | NEW_TZ).content.decode()
    page = alice_client.get(customer.get_absolute_url()).content.decode()

    assert "&lt;b&gt;Ana&lt;/b&gt;" in warned and "<b>Ana</b>" not in warned
    assert "→ &lt;i&gt;Ruiz&lt;/i&gt;" in page
    assert "<i>Ruiz</i>" not in page
