"""The REST API: a rep's token reaches exactly what the rep's pages show, and sales are recorded once."""

from __future__ import annotations

import datetime as dt

import pytest
from django.forms.models import model_to_dict
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from aftersales.api.models import IdempotentRequest
from aftersales.audit.models import AuditAction, AuditEvent
from aftersales.webhooks.models import Webhook
from customers.models import Purchase, RiskFlag
from tests.factories import (
    CheckupPlanFactory,
    CustomerFactory,
    PlanStepFactory,
    ProductFactory,
    PurchaseFactory,
    RiskFlagFactory,
    SurveyResponseFactory,
    TouchPointFactory,
)
from touchpoints.models import TouchPoint

SENTINEL = "Zebulon-Bobsecret"


def _client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


@pytest.fixture
def product(db):
    plan = CheckupPlanFactory()
    PlanStepFactory(plan=plan, position=1, offset_days=3)
    PlanStepFactory(plan=plan, position=2, offset_days=30)
    return ProductFactory(sku="BOILER-1", default_plan=plan)


@pytest.fixture
def bobs(bob, product):
    """Bob's customer with one of everything the API lists."""
    customer = CustomerFactory(owner=bob, name=f"{SENTINEL} customer", external_ref="BOB-1")
    return {
        "customer": customer,
        "purchase": PurchaseFactory(customer=customer, product=product, external_ref="BOB-ORDER"),
        "touchpoint": TouchPointFactory(customer=customer, objective=f"{SENTINEL} objective"),
        "surveyanswer": SurveyResponseFactory(invitation__customer=customer, comment=f"{SENTINEL} comment"),
        "riskflag": RiskFlagFactory(customer=customer, detail=f"{SENTINEL} flag"),
    }


def _sale(customer, **overrides) -> dict:
    return {
        "customer": customer.pk,
        "product": "BOILER-1",
        "ordered_at": dt.date.today().isoformat(),
        "amount": "1200.00",
        "currency": "eur",
        "external_ref": "SHOP-1001",
    } | overrides


# --- Authentication and scoping --------------------------------------------------------------


def test_without_a_token_the_api_answers_401(db):
    assert APIClient().get("/api/customers/").status_code == 401


def test_a_token_is_obtained_with_the_users_password(alice):
    alice.set_password("s3cret-pass")
    alice.save()

    response = APIClient().post(reverse("api:token"), {"username": "alice", "password": "s3cret-pass"})

    assert response.status_code == 200
    assert response.json()["token"] == Token.objects.get(user=alice).key


@pytest.mark.parametrize("kind", ["customer", "purchase", "touchpoint", "surveyanswer", "riskflag"])
def test_a_reps_token_cannot_reach_another_reps_objects(alice, bobs, kind):
    client = _client(alice)
    mine = CustomerFactory(owner=alice, name="Alice's own")

    detail = client.get(reverse(f"api:{kind}-detail", args=[bobs[kind].pk]))
    listing = client.get(reverse(f"api:{kind}-list"))
    by_customer = client.get(reverse(f"api:{kind}-list"), {"customer": bobs["customer"].pk})

    assert detail.status_code == 404
    assert listing.status_code == 200 and SENTINEL not in listing.content.decode()
    if kind == "customer":
        assert [row["name"] for row in listing.json()["results"]] == [mine.name]
    else:
        assert by_customer.json()["count"] == 0


@pytest.mark.parametrize("kind", ["customer", "purchase", "touchpoint", "surveyanswer", "riskflag"])
def test_a_managers_token_sees_every_reps_objects(mary, bobs, kind):
    response = _client(mary).get(reverse(f"api:{kind}-detail", args=[bobs[kind].pk]))

    assert response.status_code == 200


def test_a_rep_cannot_write_through_read_only_endpoints(alice, bobs):
    client = _client(alice)
    mine = CustomerFactory(owner=alice, name="Mine")
    purchase = PurchaseFactory(customer=mine)

    # A customer changes by PATCH only (tests/test_customer_edit.py): no PUT, no DELETE.
    assert client.put(f"/api/customers/{mine.pk}/", {"name": "x"}).status_code == 405
    assert client.delete(f"/api/customers/{mine.pk}/").status_code == 405
    assert client.patch(f"/api/purchases/{purchase.pk}/", {"amount": "1"}).status_code == 405
    assert client.delete(f"/api/touchpoints/{bobs['touchpoint'].pk}/").status_code in (404, 405)
    mine.refresh_from_db()
    assert mine.name == "Mine"


# --- Creating customers --------------------------------------------------------------------


def test_a_rep_creates_a_customer_owned_by_themselves_and_a_retry_does_not_duplicate(alice, bob):
    client = _client(alice)
    body = {"name": "Ana Ruiz", "external_ref": "SHOP-C-1", "language": "es", "timezone": "Europe/Madrid"}

    first = client.post("/api/customers/", body | {"owner": "bob"}, format="json")
    again = client.post("/api/customers/", body, format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["owner"] == "alice"
    assert again.json()["id"] == first.json()["id"]


def test_a_manager_creates_a_customer_for_a_rep(mary, alice):
    response = _client(mary).post("/api/customers/", {"name": "Ana", "owner": "alice"}, format="json")

    assert response.status_code == 201
    assert response.json()["owner"] == "alice"


def test_another_reps_customer_reference_is_refused_without_showing_it(alice, bobs):
    response = _client(alice).post("/api/customers/", {"name": "X", "external_ref": "BOB-1"}, format="json")

    assert response.status_code == 400
    assert SENTINEL not in response.content.decode()
    assert list(response.json()) == ["external_ref"]


def test_a_customer_with_bad_fields_gets_a_400_per_field(alice):
    body = {"name": "", "email": "x@", "timezone": "Mars/Olympus", "language": "fr"}

    response = _client(alice).post("/api/customers/", body, format="json")

    assert response.status_code == 400
    assert set(response.json()) == {"name", "email", "timezone", "language"}


# --- Recording a sale ------------------------------------------------------------------------


def test_a_sale_posted_with_a_reps_token_is_recorded_and_scheduled(alice, product):
    customer = CustomerFactory(owner=alice)

    response = _client(alice).post("/api/purchases/", _sale(customer), format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["external_ref"], body["currency"], body["checkups_scheduled"]) == ("SHOP-1001", "EUR", 2)
    purchase = Purchase.objects.get(pk=body["id"])
    assert purchase.customer == customer
    assert TouchPoint.objects.filter(purchase=purchase, assignee=alice).count() == 2


def test_a_rep_cannot_record_a_sale_for_another_reps_customer(alice, bobs):
    response = _client(alice).post("/api/purchases/", _sale(bobs["customer"]), format="json")

    assert response.status_code == 400
    assert "does not exist" in response.json()["customer"][0]
    assert Purchase.objects.count() == 1


def test_bad_input_gets_a_400_naming_each_field(alice, product):
    customer = CustomerFactory(owner=alice)
    sale = _sale(customer, product="NOPE", ordered_at="31/02/2026", amount="-1", currency="euro")

    response = _client(alice).post("/api/purchases/", sale, format="json")

    assert response.status_code == 400
    assert set(response.json()) == {"product", "ordered_at", "amount", "currency"}
    assert response.json()["currency"] == ["currency: use a three-letter currency code (ISO 4217), such as EUR."]


def test_delivery_before_the_order_is_refused_on_its_field(alice, product):
    sale = _sale(CustomerFactory(owner=alice), ordered_at="2026-03-10", delivered_at="2026-03-01")

    response = _client(alice).post("/api/purchases/", sale, format="json")

    assert response.status_code == 400
    assert response.json() == {"delivered_at": ["Delivery cannot be before the order."]}


def test_the_same_idempotency_key_records_the_sale_once_and_replays_the_answer(alice, product):
    client = _client(alice)
    sale = _sale(CustomerFactory(owner=alice), external_ref=None)

    first = client.post("/api/purchases/", sale, format="json", HTTP_IDEMPOTENCY_KEY="key-1")
    again = client.post("/api/purchases/", sale, format="json", HTTP_IDEMPOTENCY_KEY="key-1")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Purchase.objects.count() == 1
    assert TouchPoint.objects.count() == 2


def test_a_key_reused_for_a_different_request_is_a_422(alice, product):
    client = _client(alice)
    customer = CustomerFactory(owner=alice)
    client.post("/api/purchases/", _sale(customer), format="json", HTTP_IDEMPOTENCY_KEY="key-1")

    other = client.post(
        "/api/purchases/", _sale(customer, external_ref="SHOP-2"), format="json", HTTP_IDEMPOTENCY_KEY="key-1"
    )

    assert other.status_code == 422
    assert "different request" in other.json()["Idempotency-Key"][0]
    assert Purchase.objects.count() == 1


def test_idempotency_keys_belong_to_one_user(alice, bob, product):
    _client(alice).post("/api/purchases/", _sale(CustomerFactory(owner=alice)), format="json", HTTP_IDEMPOTENCY_KEY="k")

    response = _client(bob).post(
        "/api/purchases/",
        _sale(CustomerFactory(owner=bob), external_ref="B-1"),
        format="json",
        HTTP_IDEMPOTENCY_KEY="k",
    )

    assert response.status_code == 201
    assert IdempotentRequest.objects.count() == 2


def test_a_failed_request_does_not_burn_its_key(alice, product):
    client = _client(alice)
    customer = CustomerFactory(owner=alice)
    client.post("/api/purchases/", _sale(customer, product="NOPE"), format="json", HTTP_IDEMPOTENCY_KEY="k")

    fixed = client.post("/api/purchases/", _sale(customer), format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert fixed.status_code == 201


def test_the_same_order_reference_again_is_a_200_and_nothing_twice(alice, product):
    client = _client(alice)
    sale = _sale(CustomerFactory(owner=alice))
    first = client.post("/api/purchases/", sale, format="json")

    again = client.post("/api/purchases/", sale, format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert TouchPoint.objects.count() == 2


# --- Lists -----------------------------------------------------------------------------------


def test_lists_are_paginated(alice):
    for n in range(5):
        CustomerFactory(owner=alice, name=f"Customer {n}")

    page = _client(alice).get("/api/customers/", {"page_size": 2, "page": 2}).json()

    assert page["count"] == 5
    assert [row["name"] for row in page["results"]] == ["Customer 2", "Customer 3"]
    assert page["next"].endswith("/api/customers/?page=3&page_size=2")


def test_filters_narrow_the_lists(alice, product):
    customer = CustomerFactory(owner=alice, external_ref="ERP-7", name="Wanted")
    CustomerFactory(owner=alice, name="Other")
    RiskFlagFactory(customer=customer, reason="detractor")
    RiskFlagFactory(customer=customer, reason="gone_quiet", resolved_at=dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
    client = _client(alice)

    by_ref = client.get("/api/customers/", {"external_ref": "ERP-7"}).json()
    open_flags = client.get("/api/flags/", {"open": "true"}).json()

    assert [row["name"] for row in by_ref["results"]] == ["Wanted"]
    assert [row["reason"] for row in open_flags["results"]] == ["detractor"]


@pytest.mark.parametrize(
    ("url", "params", "field"),
    [
        ("/api/purchases/", {"customer": "abc"}, "customer"),
        ("/api/touchpoints/", {"due_before": "tomorrow"}, "due_before"),
        ("/api/touchpoints/", {"status": "lost"}, "status"),
        ("/api/flags/", {"open": "maybe"}, "open"),
        ("/api/customers/", {"band": "purple"}, "band"),
    ],
)
def test_a_bad_filter_is_a_400_naming_the_parameter(alice, url, params, field):
    response = _client(alice).get(url, params)

    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_listing_customers_costs_a_fixed_number_of_queries(alice, django_assert_max_num_queries):
    for _ in range(20):
        CustomerFactory(owner=alice)
    client = _client(alice)

    with django_assert_max_num_queries(5):
        assert len(client.get("/api/customers/").json()["results"]) == 20


# --- Webhook registration --------------------------------------------------------------------


def test_only_managers_register_webhooks(alice, mary, settings):
    settings.AFTERSALES = {**settings.AFTERSALES, "WEBHOOKS_ALLOW_PRIVATE": False}
    hook = {"url": "http://127.0.0.1:9/hook", "events": ["customer.flagged"]}

    assert _client(alice).post("/api/webhooks/", hook, format="json").status_code == 403
    refused = _client(mary).post("/api/webhooks/", hook, format="json")

    assert refused.status_code == 400
    assert "private or loopback" in refused.json()["url"][0]
    assert not Webhook.objects.exists()


def test_a_manager_registers_a_webhook_and_reads_its_log(mary, settings):
    settings.AFTERSALES = {**settings.AFTERSALES, "WEBHOOKS_ALLOW_PRIVATE": True}
    client = _client(mary)

    created = client.post(
        "/api/webhooks/", {"url": "http://127.0.0.1:9/h", "events": ["purchase.recorded"]}, format="json"
    )
    log = client.get(f"/api/webhooks/{created.json()['id']}/deliveries/")

    assert created.status_code == 201
    assert created.json()["secret"].startswith("whsec_")
    assert log.status_code == 200 and log.json()["count"] == 0


# --- Resolving a flag ------------------------------------------------------------------------


def _resolve(user, flag, body: dict):
    return _client(user).post(reverse("api:riskflag-resolve", args=[flag.pk]), body, format="json")


def test_a_rep_resolves_a_flag_of_their_customer(alice):
    customer = CustomerFactory(owner=alice, health_due_at=None)
    flag = RiskFlagFactory(customer=customer, reason="detractor")

    response = _resolve(alice, flag, {"resolution": "Called back: the leak is fixed."})

    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["resolved_by"], body["resolution"]) == (
        flag.pk,
        "alice",
        "Called back: the leak is fixed.",
    )
    assert body["resolved_at"] is not None
    flag.refresh_from_db()
    assert (flag.resolved_by, flag.resolution) == (alice, "Called back: the leak is fixed.")
    assert AuditEvent.objects.filter(action=AuditAction.RESOLVED, object_id=flag.pk, actor=alice).count() == 1
    customer.refresh_from_db()
    assert customer.health_due_at is not None  # the score is recomputed without the flag
    listed = _client(alice).get(reverse("api:riskflag-list"), {"open": "false"}).json()["results"]
    assert [(row["id"], row["resolved_by"]) for row in listed] == [(flag.pk, "alice")]


def test_a_manager_resolves_any_reps_flag(mary, bobs):
    response = _resolve(mary, bobs["riskflag"], {"resolution": "Settled with the customer's director."})

    assert response.status_code == 200 and response.json()["resolved_by"] == "mary"


def test_another_reps_flag_is_a_404_and_nothing_changes(alice, bobs):
    flag = bobs["riskflag"]
    before = model_to_dict(flag)

    response = _resolve(alice, flag, {"resolution": "Mine now"})

    assert response.status_code == 404
    assert SENTINEL not in response.content.decode()
    flag.refresh_from_db()
    assert model_to_dict(flag) == before and flag.is_open
    assert not AuditEvent.objects.filter(action=AuditAction.RESOLVED).exists()


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({}, {"resolution": ["This field is required."]}),
        ({"resolution": "   "}, {"resolution": ["This field may not be blank."]}),
        ({"resolution": "x" * 501}, {"resolution": ["Ensure this field has no more than 500 characters."]}),
    ],
)
def test_a_missing_empty_or_long_note_is_a_400_on_its_field(alice, body, errors):
    flag = RiskFlagFactory(customer=CustomerFactory(owner=alice))

    response = _resolve(alice, flag, body)

    assert response.status_code == 400
    assert response.json() == errors
    assert RiskFlag.objects.get(pk=flag.pk).is_open


def test_an_already_resolved_flag_is_a_400_saying_by_whom(alice, mary):
    flag = RiskFlagFactory(customer=CustomerFactory(owner=alice), reason="low_csat")
    assert _resolve(mary, flag, {"resolution": "Mary called first"}).status_code == 200

    response = _resolve(alice, flag, {"resolution": "Me too"})

    assert response.status_code == 400
    assert response.json() == {
        "non_field_errors": ["“Low CSAT” was already resolved by Mary Manning; nothing was changed."]
    }
    assert RiskFlag.objects.get(pk=flag.pk).resolution == "Mary called first"


# --- Schema and docs -------------------------------------------------------------------------


def test_the_openapi_schema_describes_the_endpoints(db):
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {"/api/customers/", "/api/purchases/", "/api/touchpoints/", "/api/survey-answers/", "/api/flags/"} <= set(
        paths
    )
    assert any(param["name"] == "Idempotency-Key" for param in paths["/api/purchases/"]["post"]["parameters"])
    resolve = paths["/api/flags/{id}/resolve/"]["post"]
    assert [param["name"] for param in resolve["parameters"]] == ["id"]
    request = resolve["requestBody"]["content"]["application/json"]
    assert request["schema"]["$ref"] == "#/components/schemas/RiskFlagResolve"
    assert [example["value"] for example in request["examples"].values()] == [
        {"resolution": "Called back: the technician fixed the leak, customer happy again."}
    ]
    assert set(resolve["responses"]) == {"200", "400", "404"}
    assert "resolved_by" in response.json()["components"]["schemas"]["RiskFlag"]["properties"]


@pytest.mark.parametrize("name", ["api:docs", "api:redoc"])
def test_the_docs_pages_load_their_scripts_locally(db, name):
    html = APIClient().get(reverse(name)).content.decode()

    assert "/static/drf_spectacular_sidecar/" in html
    assert "cdn" not in html.lower()


# --- Schemathesis: generated requests against the live schema find no server error --------------


def _schema(settings):
    import schemathesis
    from django.core.wsgi import get_wsgi_application

    settings.ALLOWED_HOSTS = ["*"]
    settings.DEBUG_PROPAGATE_EXCEPTIONS = False
    return schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())


@pytest.mark.django_db(transaction=True)
def test_schemathesis_finds_no_server_errors(alice, bobs, settings):
    """Each operation with data that fits the schema, and with data that does not (negative mode)."""
    from hypothesis import HealthCheck, given
    from hypothesis import settings as hypothesis_settings
    from schemathesis import GenerationMode

    schema = _schema(settings)
    headers = {"Authorization": f"Token {Token.objects.get_or_create(user=alice)[0].key}"}
    failures, statuses = [], set()

    def fuzz(operation, mode) -> None:
        @given(case=operation.as_strategy(generation_mode=mode))
        @hypothesis_settings(max_examples=10, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def check(case):
            response = case.call(headers=headers)
            statuses.add(response.status_code)
            if response.status_code >= 500:
                failures.append(f"{operation.method.upper()} {operation.path} ({mode}): {response.status_code}")

        check()

    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzz(operation, mode)

    assert len(operations) >= 12
    # The requests really ran: some succeeded, some were refused with a 4xx.
    assert 200 in statuses and statuses & {400, 404}
    assert failures == []


@pytest.mark.parametrize("role", ["rep", "manager"])
@pytest.mark.django_db(transaction=True)
def test_stateful_sequences_find_no_server_errors(alice, mary, bobs, settings, role):
    """Sequences of calls that feed each other (a customer created, then read, then sold to), as
    schemathesis infers them from the schema: what one write leaves behind is the next call's input."""
    from hypothesis import HealthCheck
    from hypothesis import settings as hypothesis_settings

    user = {"rep": alice, "manager": mary}[role]
    headers = {"Authorization": f"Token {Token.objects.get_or_create(user=user)[0].key}"}
    calls: list[tuple[str, int]] = []

    machine = _schema(settings).as_state_machine()
    linked = [label for label, entry in machine._transitions.operations.items() if entry.incoming]

    class Sequences(machine):
        def get_call_kwargs(self, case):
            return {"headers": headers}

        def validate_response(self, response, case, **kwargs):
            calls.append((case.operation.label, response.status_code))
            assert response.status_code < 500, f"{case.operation.label}: {response.status_code}"

    Sequences.run(
        settings=hypothesis_settings(
            max_examples=12,
            stateful_step_count=6,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )

    print(f"{len(calls)} stateful calls as the {role}; operations fed by another: {sorted(linked)}")
    assert "GET /api/customers/{id}/" in linked  # links inferred from the schema: real sequences
    assert any(status < 300 for _, status in calls)
    assert {label.split()[0] for label, _ in calls} >= {"GET", "POST"}


# --- Hostile input: a 400 naming the field, never a 500 (issue 14) --------------------------------


def test_a_sale_without_an_amount_is_recorded_at_zero(alice, product):
    """The schema says amount is optional (default 0); posting without it used to be a 500."""
    sale = _sale(CustomerFactory(owner=alice))
    del sale["amount"]

    response = _client(alice).post("/api/purchases/", sale, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["amount"] == "0.00"


def test_the_schema_and_the_serializer_agree_on_what_a_sale_requires(db):
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json").json()
    purchase = schema["components"]["schemas"]["Purchase"]
    writable_required = {
        name for name in purchase["required"] if not purchase["properties"][name].get("readOnly", False)
    }

    assert writable_required == {"customer", "product", "ordered_at"}
    assert purchase["properties"]["amount"]["default"] == "0.00"


@pytest.mark.parametrize("field", ["ordered_at", "delivered_at", "renewal_date"])
@pytest.mark.parametrize("day", ["9999-06-01", "9999-12-31", "1999-12-31"])
def test_a_date_outside_the_window_is_a_400_naming_the_field(alice, product, field, day):
    """Year 9999 used to pass as a real sale and overflow the scheduling (a 500)."""
    sale = _sale(CustomerFactory(owner=alice), ordered_at="2026-03-01") | {field: day}
    if field == "ordered_at":
        sale["delivered_at"] = None

    response = _client(alice).post("/api/purchases/", sale, format="json")

    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert response.json()[field][0].startswith(f"{field}: use a date from 2000-01-01 to ")
    assert not Purchase.objects.exists()


@pytest.mark.parametrize("amount", ["-1", "10000000000", "1e400", 10**30])
def test_an_amount_out_of_range_is_a_400_naming_the_field(alice, product, amount):
    response = _client(alice).post("/api/purchases/", _sale(CustomerFactory(owner=alice), amount=amount), format="json")

    assert response.status_code == 400
    assert response.json() == {"amount": ["amount: use an amount from 0 to 9,999,999,999.99."]}


def test_a_currency_that_is_not_iso_4217_is_a_400(alice, product):
    sale = _sale(CustomerFactory(owner=alice), currency="XYZ")

    response = _client(alice).post("/api/purchases/", sale, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["currency"]


@pytest.mark.parametrize("url", ["/api/purchases/", "/api/customers/", "/api/token/"])
def test_a_body_nested_50000_deep_is_a_400_before_it_is_parsed(alice, url):
    """Python's JSON parser recursed into it and ended in a RecursionError: a 500, even without a login."""
    client = _client(alice) if url != "/api/token/" else APIClient()
    body = "[" * 50_000 + "]" * 50_000

    response = client.generic("POST", url, body, content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["The body is nested more than 32 levels deep."]}


def test_brackets_inside_strings_do_not_count_as_nesting(alice):
    name = "[" * 100 + '{"x": "]]"}'

    response = _client(alice).post("/api/customers/", {"name": name}, format="json")

    assert response.status_code == 201
    assert response.json()["name"] == name


@pytest.mark.parametrize(
    ("body", "field"),
    [('{"name": "Ana \\ud800"}', "name"), ('{"name": "Ana", "company": "\\u0000"}', "company")],
)
def test_text_no_database_can_store_is_a_400_naming_the_field(alice, body, field):
    """A lone surrogate cannot be encoded for PostgreSQL; a NUL cannot be stored in a text column."""
    response = _client(alice).generic("POST", "/api/customers/", body, content_type="application/json")

    assert response.status_code == 400
    assert list(response.json()) == [field]


@pytest.mark.parametrize("body", ['{"amount": NaN}', '{"amount": Infinity}', '{"amount": 1e999}', "{", "[]", "7"])
def test_a_body_that_is_not_a_json_object_gets_the_one_error_shape(alice, body):
    response = _client(alice).generic("POST", "/api/purchases/", body, content_type="application/json")

    assert response.status_code == 400
    assert list(response.json()) in (["non_field_errors"], ["customer", "product", "ordered_at"])
    assert all(isinstance(messages, list) for messages in response.json().values())


def test_a_body_larger_than_the_upload_limit_is_a_413(alice, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

    response = _client(alice).generic("POST", "/api/customers/", '{"name": "' + "a" * 2000 + '"}', "application/json")

    assert response.status_code == 413


def test_a_username_longer_than_the_lockout_column_is_refused_not_a_500(alice):
    """Axes recorded the typed username in a varchar(255): 20,000 characters ended in a database error."""
    response = APIClient().post("/api/token/", {"username": "a" * 20_000, "password": "x"}, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["non_field_errors"]


def test_a_filter_date_outside_the_window_is_a_400_naming_the_parameter(alice):
    response = _client(alice).get("/api/touchpoints/", {"due_before": "9999-12-31"})

    assert response.status_code == 400
    assert list(response.json()) == ["due_before"]


def test_an_idempotency_key_with_control_characters_is_a_400(alice, product):
    response = _client(alice).post(
        "/api/purchases/", _sale(CustomerFactory(owner=alice)), format="json", HTTP_IDEMPOTENCY_KEY="k\x00"
    )

    assert response.status_code == 400
    assert list(response.json()) == ["Idempotency-Key"]
    assert not Purchase.objects.exists()


def test_the_delivery_log_answers_with_a_format_suffix(mary):
    """/api/webhooks/{id}/deliveries.json was routed to an action that did not take ``format``: a 500."""
    hook = Webhook.objects.create(url="https://example.com/h", events=["purchase.recorded"], secret="whsec_x")

    response = _client(mary).get(f"/api/webhooks/{hook.pk}/deliveries.json")

    assert response.status_code == 200
    assert response.json()["count"] == 0
