"""Every URL of the project, opened by alice (a rep) on bob's objects: 404, and nothing changed.

The URL patterns are walked from the root URLconf, so a new page is tested as
soon as it is routed. A pattern that takes an object id must say which of
bob's objects it gets (``PK_OF`` / ``KWARG_OF`` below): an unknown kwarg fails
the test loudly, so nobody can add a URL without thinking about who may open
it. Public token pages are skipped by name, each with its reason.

Each URL is requested with GET and POST (plain and htmx), with a body that
names bob's objects in every field a form might read. Then:

* a URL about one of bob's objects answers 404; a manager-only page 403 or
  404 (405 is fine wherever the method is not allowed);
* any other page may answer, but shows none of bob's data;
* every row of every app table is exactly as before.

A manager opens the same object URLs without a 404: the ids are real, so
alice's 404 comes from scoping, not from a wrong mapping.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from aftersales.imports.models import ImportJob
from aftersales.mail.models import MailboxMessage
from tests.factories import (
    CheckupPlanFactory,
    CustomerFactory,
    OutboxEmailFactory,
    PlanStepFactory,
    ProductFactory,
    PurchaseFactory,
    RiskFlagFactory,
    SurveyResponseFactory,
    TouchPointFactory,
)
from touchpoints.models import Status

# --- The map: extend it when you add a URL ------------------------------------------------

# "pk" means a different model on every URL: map it per URL name.
PK_OF = {
    "customers:detail": "customer",
    "customers:edit": "customer",
    "customers:merge": "customer",
    "customers:purchase_create": "customer",
    "touchpoint_row": "touchpoint",
    "touchpoint_log": "touchpoint",
    "touchpoint_reschedule": "touchpoint",
    "touchpoint_cancel": "touchpoint",
    "plan_edit": "plan",
    "mailbox:detail": "mail",
    "mailbox:html": "mail",
    "customers:import_detail": "import_job",
    "customers:import_commit": "import_job",
    "customers:import_progress": "import_job",
    "customers:import_retry": "import_job",
    "customers:gdpr_export": "customer",
    "customers:gdpr_erase": "customer",
}
# Other kwarg names mean the same object wherever they appear.
KWARG_OF = {
    "customer_pk": "customer",
    "customer_id": "customer",
    "purchase_pk": "purchase",
    "touchpoint_pk": "touchpoint",
    "plan_pk": "plan",
    "step_pk": "step",
    "flag_pk": "flag",
    "response_pk": "answer",
    "rep_pk": "rep",  # a rep's scorecard: bob's is a 404 for alice
}
# Pages for managers (or staff) only: a rep gets 403 (or 404) whatever the object.
ROLE_RESTRICTED = {
    "dashboard",
    "plan_list",
    "plan_create",
    "plan_edit",
    "mailbox:list",
    "mailbox:clear",
    "mailbox:detail",
    "mailbox:html",
    "customers:import_upload",
    "customers:import_detail",
    "customers:import_commit",
    "customers:import_progress",
    "customers:import_retry",
    "customers:gdpr_export",
    "customers:gdpr_erase",
    "customers:merge",
    "feedback:response_rates",
    "risk:reassign",
    "risk:weights",
}
# Not opened by a signed-in rep at all, with the reason.
PUBLIC = {
    "password_reset_confirm": "Django's password-reset link: the token is the access right, checked by Django",
    "careplan": "the customer's tokenised care-plan page: no login, the token is the access right",
    "feedback:survey": "the customer's survey page: no login, the invitation token is the access right",
    "feedback:thanks": "the survey's thank-you page: no login, the invitation token is the access right",
    "feedback:unsubscribe": "the customer's unsubscribe page: no login, the signed token is the access right",
}
SKIPPED_NAMESPACES = {
    "admin": "Django's admin has its own staff permissions (tests/aftersales/test_admin.py)",
    "api": "the token-authenticated REST API: every endpoint is walked with alice's token on bob's ids in "
    "tests/aftersales/api/test_api.py (test_a_reps_token_cannot_reach_another_reps_objects)",
}


# --- Walking the URLconf ----------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    name: str  # namespaced, e.g. "customers:detail"
    route: str
    kwargs: tuple[str, ...]


def _kwarg_names(pattern) -> list[str]:
    converters = getattr(pattern, "converters", None)
    if converters is not None and hasattr(pattern, "_route"):
        return list(converters)
    return list(pattern.regex.groupindex)


def _walk(patterns, *, prefix: str = "", namespace: str = "", kwargs: tuple[str, ...] = ()):
    for pattern in patterns:
        names = (*kwargs, *_kwarg_names(pattern.pattern))
        if isinstance(pattern, URLResolver):
            inner = ":".join(part for part in (namespace, pattern.namespace or "") if part)
            if inner.split(":")[0] in SKIPPED_NAMESPACES:
                continue
            yield from _walk(pattern.url_patterns, prefix=prefix + str(pattern.pattern), namespace=inner, kwargs=names)
        elif isinstance(pattern, URLPattern):
            if not pattern.name:
                raise AssertionError(f"URL {prefix}{pattern.pattern} has no name: name it so it can be tested")
            name = f"{namespace}:{pattern.name}" if namespace else pattern.name
            yield Route(name=name, route=prefix + str(pattern.pattern), kwargs=names)


def _routes() -> list[Route]:
    seen, routes = set(), []
    for route in _walk(get_resolver().url_patterns):
        if route.name not in seen:  # a name routed twice: reverse() finds the first
            seen.add(route.name)
            routes.append(route)
    return routes


ROUTES = _routes()
TESTED = [route for route in ROUTES if route.name not in PUBLIC]
METHODS = ["GET", "POST", "POST htmx"]


# --- Bob's world ------------------------------------------------------------------------------

SENTINEL = "Zebulon-Bobsecret"


@pytest.fixture
def world(bob):
    """Bob's customer with one of everything, and the objects URLs point at.

    Plans and products are the shared catalogue, visible to every rep: they
    carry no sentinel. Everything about bob's customer does.
    """
    plan = CheckupPlanFactory(name="Shared plan")
    product = ProductFactory(name="Shared product", default_plan=plan)
    customer = CustomerFactory(owner=bob, name=f"{SENTINEL} customer", company=f"{SENTINEL} Ltd")
    purchase = PurchaseFactory(customer=customer, product=product, plan=plan)
    now = timezone.now()
    objects = {
        "customer": customer,
        "purchase": purchase,
        "plan": plan,
        "step": PlanStepFactory(plan=plan),
        "product": product,
        "rep": bob,
        "touchpoint": TouchPointFactory(
            customer=customer, purchase=purchase, objective=f"{SENTINEL} objective", due_at=now + dt.timedelta(days=2)
        ),
        "done_touchpoint": TouchPointFactory(
            customer=customer, status=Status.DONE, completed_at=now, notes=f"{SENTINEL} notes", outcome="reached"
        ),
        "flag": RiskFlagFactory(customer=customer, detail=f"{SENTINEL} flag"),
        "answer": SurveyResponseFactory(invitation__customer=customer, comment=f"{SENTINEL} comment"),
        "email": OutboxEmailFactory(customer=customer, subject=f"{SENTINEL} mail"),
        "import_job": ImportJob.objects.create(created_by=bob, filename="sales.csv", path="/nonexistent.csv"),
        "mail": MailboxMessage.objects.create(
            from_email="a@example.com", to="b@example.com", subject="Hi", body_html="<p>Hi</p>", raw="Hi"
        ),
    }
    return objects


def _payload(world, alice) -> dict:
    """A body naming bob's objects in every field a form of this app might read, with valid-looking values."""
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    return {
        "customer": world["customer"].pk,
        "touchpoint": world["touchpoint"].pk,
        "purchase": world["purchase"].pk,
        "plan": world["plan"].pk,
        "product": world["product"].pk,
        "owner": alice.pk,
        "assignee": alice.pk,
        "outcome": "reached",
        "temperature": "1",
        "notes": "alice was here",
        "next_step": "alice was here",
        "next_step_due": tomorrow,
        "problem_reported": "on",
        "channel": "call",
        "due_date": tomorrow,
        "reason": "alice was here",
        "status": "cancelled",
        "ordered_at": timezone.localdate().isoformat(),
        "amount": "1",
        "currency": "EUR",
        "external_ref": "ALICE-WAS-HERE",
        "name": "alice was here",
    }


def _models() -> list:
    labels = ("customers", "touchpoints", "feedback", "aftersales")
    return [*(model for label in labels for model in apps.get_app_config(label).get_models()), get_user_model()]


def _snapshot() -> dict[str, list[dict]]:
    return {model._meta.label: list(model.objects.order_by("pk").values()) for model in _models()}


def _url(route: Route, world) -> str:
    kwargs = {}
    for kwarg in route.kwargs:
        key = PK_OF.get(route.name) if kwarg == "pk" else KWARG_OF.get(kwarg)
        if key is None:
            pytest.fail(
                f"URL {route.name!r} ({route.route}) takes {kwarg!r}: say which of bob's objects it gets in "
                "PK_OF or KWARG_OF of tests/aftersales/test_access.py (or list a public token page in PUBLIC, "
                "with the reason)."
            )
        kwargs[kwarg] = world[key].pk
    return reverse(route.name, kwargs=kwargs)


# --- The tests --------------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("route", TESTED, ids=lambda route: route.name)
def test_a_rep_cannot_reach_or_change_another_reps_objects(alice_client, alice, world, route, method):
    url = _url(route, world)
    payload = _payload(world, alice)
    before = _snapshot()

    if method == "GET":
        response = alice_client.get(url, payload)
    else:
        headers = {"HX-Request": "true"} if method == "POST htmx" else {}
        response = alice_client.post(url, payload, headers=headers)

    if route.name in ROLE_RESTRICTED:
        assert response.status_code in (403, 404, 405), f"{method} {url}: {response.status_code}, not 403/404"
    elif route.kwargs:
        assert response.status_code in (404, 405), f"{method} {url}: {response.status_code}, not 404"
    body = b"".join(response.streaming_content) if response.streaming else response.content  # CSV exports stream
    content = body.decode(errors="replace")
    assert SENTINEL not in content, f"{method} {url} shows bob's data"
    assert _snapshot() == before, f"{method} {url} changed rows"


@pytest.mark.parametrize("route", [route for route in TESTED if route.kwargs], ids=lambda route: route.name)
def test_a_manager_reaches_the_same_objects(mary_client, alice, world, route):
    """The ids in the map are real: the same URL is no 404 for a manager."""
    response = mary_client.get(_url(route, world))

    assert response.status_code in (200, 302, 405), response.status_code


def test_the_walk_finds_the_projects_pages():
    names = {route.name for route in ROUTES}

    assert {"customers:list", "customers:detail", "my_day", "dashboard", "mailbox:detail"} <= names
    assert not any(name.startswith("admin:") for name in names)


def test_the_map_names_only_urls_that_exist():
    """A renamed or removed URL must be taken out of the map, not linger there untested."""
    names = {route.name for route in ROUTES}

    assert set(PK_OF) - names == set()
    assert ROLE_RESTRICTED - names == set()
    assert set(PUBLIC) - names == set()


def test_a_url_with_an_unmapped_kwarg_fails_loudly(world):
    new_page = Route(name="customers:detail", route="customers/<int:invoice_pk>/", kwargs=("invoice_pk",))

    with pytest.raises(pytest.fail.Exception, match="takes 'invoice_pk'.*PK_OF or KWARG_OF"):
        _url(new_page, world)
