"""Hostile input everywhere: no path argument, query string, form body or JSON body gets a 5xx.

Every URL pattern of the project (walked from the resolver, the admin's
included) is requested as an anonymous visitor, a rep (alice) and a manager
who is staff (mary, as the demo's manager): GET with plausible and hostile
path arguments and with hostile query strings; POST with each form's fields
(read from the page itself, its values the baseline) all hostile at once,
then one at a time; and the API's writes with hostile JSON, field by field
and as whole bodies (50,000 deep, NaN, a lone surrogate, UTF-16…). Out-of-range
dates, huge numbers, NUL, lone surrogates, wrong types and SQL-looking text
are among the values. Each request runs in a savepoint that is rolled back,
so every request meets the same data. An exception a view raises is caught
and listed with its request; the test fails on any of them, and on any 5xx.

The number of requests sent is printed in the terminal summary (it is quoted
in docs/BENCHMARKS.md). Kept under a minute by sending each kind of value
where it can matter: query strings only to pages that answered 200, the
admin's forms (Django's own, and heavy) only ids and dates.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import quote, urlsplit

import pytest
from django.apps import apps
from django.contrib import admin
from django.core.cache import cache
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.exceptions import NoReverseMatch

from aftersales.imports.models import ImportJob
from aftersales.webhooks.models import Webhook
from feedback.services.unsubscribe import unsubscribe_token
from tests.factories import (
    CheckupPlanFactory,
    CustomerFactory,
    OutboxEmailFactory,
    PlanStepFactory,
    ProductFactory,
    PurchaseFactory,
    RiskFlagFactory,
    SurveyInvitationFactory,
    SurveyResponseFactory,
    TouchPointFactory,
)
from touchpoints.careplan import careplan_token

# Text a query string or a form field can carry. A lone surrogate cannot travel in a
# form or a query string as text (Django decodes the bytes with replacement); it is
# sent as its raw UTF-8 bytes in RAW_QUERY, and as a JSON escape in the API bodies.
HOSTILE = [
    "9999-12-31",
    "9999-12",
    "0000-00-00",
    "99999999999999999999999999",
    "-1",
    "1e400",
    "\x00",
    "' OR '1'='1' --",
    "A" * 3000,
    "<script>alert(1)</script>",
]
# Already percent-encoded: bytes that are not UTF-8, an encoded lone surrogate.
RAW_QUERY = ["%FF%FE", "%ED%A0%80"]
# A form's fields, one at a time: where ids, dates and numbers are parsed, and free text.
TYPED = ["9999-12-31", "99999999999999999999999999", "-1", "x"]
TEXT = ["\x00", "A" * 20_000]
# Every field of a form at once.
ALL_AT_ONCE = ["' OR '1'='1' --", "9999-12-31", "\x00"]
# The API's filters are each a small parser: a few shapes of each kind are enough.
API_HOSTILE = ["9999-12-31", "99999999999999999999999999", "-1", "' OR '1'='1' --"]

# Every query-string name the views read, and the admin's own.
QUERY_NAMES = [
    "q", "page", "page_size", "sort", "owner", "product", "band", "quiet", "answered", "nps", "invited",
    "answered_since", "invited_since", "period",
    "overdue", "overdue_for", "flagged_on", "rep", "reason", "language", "days", "score", "next", "close",
    "customer", "status", "due_before", "due_after", "detractor", "open", "external_ref", "format", "token",
    "o", "p", "e", "all", "_to_field", "_popup", "_changelist_filters",
]  # fmt: skip
# The API's lists and the filters each reads (docs/API.md); any list also reads page and page_size.
API_LISTS = {
    "api:customer-list": ("q", "external_ref", "band"),
    "api:purchase-list": ("customer",),
    "api:touchpoint-list": ("customer", "status", "due_before", "due_after"),
    "api:surveyanswer-list": ("customer", "detractor"),
    "api:riskflag-list": ("customer", "open", "reason"),
    "api:webhook-list": (),
}

# Writes with side effects outside the database, or that end the session the next requests need.
NO_POST = {"logout", "admin:logout"}

# JSON values for each field of an API write, and whole bodies.
JSON_VALUES = [
    "9999-12-31",
    "\x00",
    "\ud800",
    "A" * 20_000,
    -1,
    10**30,
    1e308,
    True,
    None,
    [],
    {"nested": {"object": [1, 2, 3]}},
]
DEEP = b"[" * 50_000 + b"]" * 50_000
RAW_BODIES = [
    DEEP,
    b'{"a":' * 40 + b"1" + b"}" * 40,
    b"[]",
    b'"text"',
    b"null",
    b"NaN",
    b'{"amount": Infinity}',
    b'{"amount": 1e999}',
    b'{"customer": ' + b"9" * 5000 + b"}",
    b"\xff\xfe{\x00}\x00",
    b"\xef\xbb\xbf{}",
    b'{"name": "\\ud800"}',
    b"{" * 10,
    b"",
]


@dataclass
class Fuzz:
    """What was sent and what went wrong."""

    sent: int = 0
    statuses: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def request(self, client: Client, method: str, url: str, **kwargs):
        if self.sent % 20 == 0:
            cache.clear()  # the rate limits count per minute in the cache: none cuts the run short
        self.sent += 1
        try:
            with transaction.atomic():
                if method == "raw":  # bytes as they are, whatever charset the Content-Type names
                    response = client.generic("POST", url, **kwargs)
                else:
                    response = getattr(client, method)(url, **kwargs)
                transaction.set_rollback(True)
        except Exception as exc:  # any exception a view lets out would be a 500
            self.failures.append(f"{method.upper()} {url[:200]} {_brief(kwargs)}: {type(exc).__name__}: {exc}"[:600])
            return None
        self.statuses[response.status_code // 100 * 100] += 1
        if response.status_code >= 500:
            self.failures.append(f"{method.upper()} {url[:200]} {_brief(kwargs)}: {response.status_code}")
        return response


def _brief(kwargs: dict) -> str:
    data = kwargs.get("data")
    if isinstance(data, bytes):
        return repr(data[:80])
    if isinstance(data, dict):
        return repr({key: str(value)[:40] for key, value in data.items()})[:300]
    return ""


FUZZ = Fuzz()


class _Summary:
    def pytest_terminal_summary(self, terminalreporter) -> None:
        if FUZZ.sent:
            statuses = ", ".join(f"{code // 100}xx: {count}" for code, count in sorted(FUZZ.statuses.items()))
            terminalreporter.write_line(f"fuzz: {FUZZ.sent} requests ({statuses}); {len(FUZZ.failures)} server errors")


@pytest.fixture(scope="session", autouse=True)
def _fuzz_summary(request):
    request.config.pluginmanager.register(_Summary(), "fuzz-summary")


@pytest.fixture(autouse=True)
def _quiet_request_log():
    """Thousands of 4xx would each log a warning; errors still show."""
    logger = logging.getLogger("django.request")
    level = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(level)


# --- The data every request meets -------------------------------------------------------------


@dataclass
class World:
    values: dict[str, dict[str, str]]  # url name → path argument → a real value
    users: dict[str, object]


@pytest.fixture
def world(alice, bob, mary, settings, tmp_path) -> World:
    settings.VAR_DIR = tmp_path
    mary.is_staff = True
    mary.save(update_fields=["is_staff"])
    plan = CheckupPlanFactory()
    PlanStepFactory(plan=plan, position=1, offset_days=3)
    product = ProductFactory(sku="BOILER-1", default_plan=plan)
    customer = CustomerFactory(owner=alice, external_ref="C-1")
    CustomerFactory(owner=bob, external_ref="C-2")
    purchase = PurchaseFactory(customer=customer, product=product, external_ref="O-1")
    touchpoint = TouchPointFactory(customer=customer, purchase=purchase)
    flag = RiskFlagFactory(customer=customer)
    invitation = SurveyInvitationFactory(customer=customer)
    survey_token = invitation.set_token()
    invitation.save(update_fields=["token_hash"])
    answer = SurveyResponseFactory(invitation__customer=customer)
    mail = OutboxEmailFactory(customer=customer)
    job = ImportJob.objects.create(
        created_by=mary, filename="sales.csv", path=str(tmp_path / "sales.csv"), summary={"header": ["Customer ID"]}
    )
    (tmp_path / "sales.csv").write_text("Customer ID,Customer name\nC-9,Nine\n")
    hook = Webhook.objects.create(url="https://example.com/hook", events=["purchase.recorded"], secret="whsec_x")
    customer_pk, tp_pk = str(customer.pk), str(touchpoint.pk)
    values = {
        "customers:detail": {"pk": customer_pk},
        "customers:purchase_create": {"pk": customer_pk},
        "customers:gdpr_export": {"pk": customer_pk},
        "customers:gdpr_erase": {"pk": customer_pk},
        "customers:import_detail": {"pk": str(job.pk)},
        "customers:import_commit": {"pk": str(job.pk)},
        "customers:import_progress": {"pk": str(job.pk)},
        "mailbox:detail": {"pk": str(mail.pk)},
        "mailbox:html": {"pk": str(mail.pk)},
        "risk:snooze": {"flag_pk": str(flag.pk)},
        "rep_scorecard": {"rep_pk": str(alice.pk)},
        "touchpoint_row": {"pk": tp_pk},
        "touchpoint_log": {"pk": tp_pk},
        "touchpoint_reschedule": {"pk": tp_pk},
        "touchpoint_cancel": {"pk": tp_pk},
        "touchpoint_log_contact": {"customer_pk": customer_pk},
        "plan_edit": {"pk": str(plan.pk)},
        "careplan": {"token": careplan_token(customer)},
        "feedback:survey": {"token": survey_token},
        "feedback:thanks": {"token": survey_token},
        "feedback:unsubscribe": {"token": unsubscribe_token(customer)},
        "feedback:resubscribe": {"customer_pk": customer_pk},
        "api:customer-detail": {"pk": customer_pk},
        "api:purchase-detail": {"pk": str(purchase.pk)},
        "api:touchpoint-detail": {"pk": tp_pk},
        "api:surveyanswer-detail": {"pk": str(answer.pk)},
        "api:riskflag-detail": {"pk": str(flag.pk)},
        "api:webhook-detail": {"pk": str(hook.pk)},
        "api:webhook-deliveries": {"pk": str(hook.pk)},
        "password_reset_confirm": {"uidb64": "MQ", "token": "set-password"},
    }
    return World(values=values, users={"anonymous": None, "rep": alice, "manager": mary})


def _client(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


# --- Walking the URL patterns -----------------------------------------------------------------


@dataclass(frozen=True)
class Pattern:
    name: str  # with its namespace, as reverse() takes it
    params: tuple[tuple[str, str], ...]  # (argument, converter name or "regex")


def url_patterns() -> list[Pattern]:
    found: dict[str, Pattern] = {}

    def walk(patterns, namespace: str | None) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                inner = namespace
                if entry.namespace:
                    inner = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
                walk(entry.url_patterns, inner)
            elif isinstance(entry, URLPattern) and entry.name:
                name = f"{namespace}:{entry.name}" if namespace else entry.name
                converters = getattr(entry.pattern, "converters", {})
                regex = entry.pattern.regex
                params = tuple(
                    (arg, type(converters[arg]).__name__ if arg in converters else "regex") for arg in regex.groupindex
                )
                # Same name twice (a format suffix variant): keep the one with fewer arguments too.
                key = f"{name}|{','.join(arg for arg, _ in params)}"
                found.setdefault(key, Pattern(name, params))

    walk(get_resolver().url_patterns, None)
    return list(found.values())


def _admin_object(name: str) -> str:
    """A real primary key for an admin change/delete/history URL, else "1"."""
    match = re.fullmatch(r"admin:(\w+?)_(\w+)_(change|delete|history)", name)
    if match:
        try:
            model = apps.get_model(match[1], match[2])
        except LookupError:
            return "1"
        pk = model._default_manager.values_list("pk", flat=True).first()
        return str(pk) if pk is not None else "1"
    return "1"


def _arguments(pattern: Pattern, world: World) -> list[dict[str, str]]:
    """The plausible arguments first, then hostile ones, each reversible or skipped."""
    real = world.values.get(pattern.name, {})
    candidates: list[dict[str, str]] = [{}]
    for arg, converter in pattern.params:
        plausible = real.get(arg)
        if plausible is None and arg == "object_id":
            plausible = _admin_object(pattern.name)
        if arg == "format":
            options = ["json", "csv"]
        elif converter == "IntConverter":
            options = [plausible or "1", "0", "999999999999999999", "9" * 30]
        elif arg == "app_label":
            options = ["customers", "nope"]
        elif arg == "object_id":
            options = [plausible, "x"]
        else:
            options = [plausible or "1", "0", "x", "9" * 30, "' OR '1'='1' --", "é" * 300]
        candidates = [dict(done, **{arg: option}) for done in candidates for option in options]
    # The first set is the plausible one; beyond a dozen combinations the rest add little.
    return candidates[:12]


def _url(pattern: Pattern, kwargs: dict[str, str]) -> str | None:
    try:
        return reverse(pattern.name, kwargs=kwargs or None)
    except NoReverseMatch:
        return None


def _query(names: list[str], value: str, raw: bool = False) -> str:
    encoded = value if raw else quote(value, safe="")
    return "&".join(f"{name}={encoded}" for name in names)


# --- Reading a page's forms -----------------------------------------------------------------


@dataclass
class Form:
    """The fields of a page's POST forms that post back to the page, their values and kinds."""

    values: dict[str, str] = field(default_factory=dict)
    typed: dict[str, str] = field(default_factory=dict)  # "select" or "input": where ids, dates, numbers are parsed


class _FormReader(HTMLParser):
    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path
        self.form = Form()
        self.in_form = False
        self.select: str | None = None
        self.textarea: str | None = None

    def handle_starttag(self, tag, attrs) -> None:
        attrs = dict(attrs)
        values = self.form.values
        if tag == "form":
            action = urlsplit(attrs.get("action") or "").path
            self.in_form = (attrs.get("method") or "").lower() == "post" and action in ("", self.path)
        elif not self.in_form:
            return
        elif tag == "option" and self.select:
            # The selected option, else the first one with a value.
            if "selected" in attrs or (not values.get(self.select) and attrs.get("value")):
                values[self.select] = attrs.get("value") or ""
        elif not attrs.get("name"):
            return
        elif tag == "input":
            kind = (attrs.get("type") or "text").lower()
            if kind in ("checkbox", "radio") and "checked" not in attrs:
                values.setdefault(attrs["name"], "")
            elif kind not in ("submit", "button", "file", "image", "reset"):
                values[attrs["name"]] = attrs.get("value") or ""
            if kind in ("date", "number", "datetime-local") or "vDateField" in (attrs.get("class") or ""):
                self.form.typed[attrs["name"]] = "input"
        elif tag == "select":
            self.select = attrs["name"]
            values.setdefault(self.select, "")
            self.form.typed[self.select] = "select"
        elif tag == "textarea":
            self.textarea = attrs["name"]
            values[self.textarea] = ""

    def handle_startendtag(self, tag, attrs) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data) -> None:
        if self.textarea:
            self.form.values[self.textarea] += data

    def handle_endtag(self, tag) -> None:
        if tag == "form":
            self.in_form = False
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None


def read_form(html: str, path: str) -> Form:
    reader = _FormReader(path)
    reader.feed(html)
    return reader.form


def _fuzzable(name: str) -> bool:
    """Not the CSRF token, nor a formset's counts (Django answers those with its own 400), nor the
    second and later rows of a formset (the same fields as its first)."""
    return (
        name != "csrfmiddlewaretoken"
        and not name.endswith(("-TOTAL_FORMS", "-INITIAL_FORMS"))
        and not re.search(r"-[1-9][0-9]*-", name)
    )


# --- The tests ----------------------------------------------------------------------------------


ROLES = ["anonymous", "rep", "manager"]


@pytest.mark.parametrize("role", ROLES)
def test_no_path_argument_or_query_string_gets_a_server_error(world, role):
    """GET every pattern with plausible and hostile path arguments, then hostile query strings.

    Query strings are sent only where the plain page answered 200: a redirect to the
    login or a 403 reads no query string.
    """
    client = _client(world.users[role])
    fuzz = Fuzz()
    for pattern in url_patterns():
        arguments = _arguments(pattern, world)
        if pattern.name.startswith("admin:") and (role != "manager" or not pattern.name.endswith("_change")):
            arguments = arguments[:1]  # Django's own views; the login redirect is the same for every page
        urls = [url for kwargs in arguments if (url := _url(pattern, kwargs)) is not None]
        responses = [fuzz.request(client, "get", url) for url in urls]
        if not urls or responses[0] is None or responses[0].status_code != 200:
            continue
        for query in _hostile_queries(pattern):
            fuzz.request(client, "get", f"{urls[0]}?{query}")
    _report(fuzz)


def _hostile_queries(pattern: Pattern) -> list[str]:
    if pattern.name.startswith("admin:"):
        if not pattern.name.endswith("_changelist"):
            return []
        # One name at a time: the admin turns the first bad lookup into a redirect, hiding the others.
        model_admin = _model_admin(pattern.name)
        names = ["q", "o", "p", "_to_field", *_admin_filter_names(model_admin)]
        queries = [_query([name], "99999999999999999999999999") for name in names]
        if field_name := getattr(model_admin, "date_hierarchy", None):
            for parts in (("9999", "12", "31"), ("9999", "12"), ("9999",), ("1",), ("2026", "2", "30")):
                suffixes = ("year", "month", "day")[: len(parts)]
                queries.append(
                    "&".join(f"{field_name}__{suffix}={part}" for suffix, part in zip(suffixes, parts, strict=True))
                )
        return queries
    if pattern.name in API_LISTS:
        # One name at a time too: the API answers the first bad filter with a 400.
        names = (*API_LISTS[pattern.name], "page", "page_size")
        return [_query([name], value) for name in names for value in API_HOSTILE] + [
            _query([name], value, raw=True) for name in names for value in RAW_QUERY
        ]
    if pattern.name.startswith("api:"):
        return [_query(QUERY_NAMES, value) for value in HOSTILE[:2]]
    # Pages drop each bad value on its own: one request sets every name at once.
    return [_query(QUERY_NAMES, value) for value in HOSTILE] + [
        _query(QUERY_NAMES, value, raw=True) for value in RAW_QUERY
    ]


def _model_admin(name: str):
    match = re.fullmatch(r"admin:(\w+?)_(\w+)_changelist", name)
    try:
        model = apps.get_model(match[1], match[2])
    except (LookupError, TypeError):
        return None
    return admin.site._registry.get(model)


def _admin_filter_names(model_admin) -> list[str]:
    names = []
    for entry in getattr(model_admin, "list_filter", ()):
        if isinstance(entry, type) and hasattr(entry, "parameter_name"):
            names.append(entry.parameter_name)
        elif isinstance(entry, str):
            names.append(f"{entry}__exact")
    return names


@pytest.mark.parametrize("role", ROLES)
def test_no_form_body_gets_a_server_error(world, role):
    """POST each page's own form with every field hostile, then one at a time; pages without a form too.

    The fields come from the page as the user sees it (its values are the baseline).
    The admin's forms (many fields, heavy pages) get one field at a time only where
    ids, dates and numbers are parsed.
    """
    client = _client(world.users[role])
    fuzz = Fuzz()
    known: set[str] = set()
    for pattern in url_patterns():
        is_admin = pattern.name.startswith("admin:")
        if pattern.name.startswith("api:") or pattern.name in NO_POST or (is_admin and role != "manager"):
            continue
        url = _url(pattern, _arguments(pattern, world)[0])
        if url is None:
            continue
        page = fuzz.request(client, "get", url)
        form = Form()
        if page is not None and page.status_code == 200 and "html" in page.get("Content-Type", ""):
            form = read_form(page.content.decode(errors="replace"), urlsplit(url).path)
        known.update(form.values)
        if not form.values:
            # A view that takes a POST without showing a form (a button elsewhere posts to it): every
            # field name seen so far, hostile. The admin's own form-less pages (history, …) are left out.
            for value in [] if is_admin else ALL_AT_ONCE:
                fuzz.request(client, "post", url, data=dict.fromkeys(sorted(known) or QUERY_NAMES, value))
            continue
        fuzz.request(client, "post", url, data=form.values)
        fields = [name for name in form.values if _fuzzable(name)]
        for value in ALL_AT_ONCE[1:2] if is_admin else ALL_AT_ONCE:
            fuzz.request(client, "post", url, data={**form.values, **dict.fromkeys(fields, value)})
        for name in fields:
            kind = form.typed.get(name)
            if is_admin:
                # Django's own text fields and heavy pages: an id that is none, a date past the window.
                values = ["x"] if kind == "select" else ["9999-12-31"] if kind else []
            else:
                values = TYPED if kind else TEXT
            for value in values:
                fuzz.request(client, "post", url, data={**form.values, name: value})
    _report(fuzz)


API_WRITES = {
    "api:customer-list": {"name": "Ana", "email": "ana@example.com", "external_ref": "F-1", "language": "es"},
    "api:purchase-list": {
        "customer": None,  # alice's customer, set in the test
        "product": "BOILER-1",
        "ordered_at": "2026-03-01",
        "delivered_at": "2026-03-02",
        "renewal_date": "2027-03-01",
        "amount": "10.00",
        "currency": "EUR",
        "external_ref": "F-O-1",
    },
    "api:webhook-list": {"url": "https://example.com/h", "events": ["purchase.recorded"], "description": "x"},
    "api:token": {"username": "alice", "password": "wrong"},
}


@pytest.mark.parametrize("role", ROLES)
def test_no_json_body_gets_a_server_error(world, role):
    """Every API write with each field hostile in turn, then whole bodies that are no JSON object at all."""
    client = _client(world.users[role])
    fuzz = Fuzz()
    customer_pk = int(world.values["customers:detail"]["pk"])
    for name, body in API_WRITES.items():
        url = reverse(name)
        body = {**body, "customer": customer_pk} if "customer" in body else body
        fuzz.request(client, "post", url, data=body, content_type="application/json")
        # Without a login only the token endpoint reads a body; the others answer 401 first.
        if role != "anonymous" or name == "api:token":
            for key in [*body, "plan", "unexpected"]:
                for value in JSON_VALUES:
                    fuzz.request(client, "post", url, data={**body, key: value}, content_type="application/json")
                fuzz.request(client, "post", url, data={k: v for k, v in body.items() if k != key})
        for raw in RAW_BODIES:
            fuzz.request(client, "raw", url, data=raw, content_type="application/json")
        for charset in ("utf-16", "bz2_codec", "nope"):
            fuzz.request(client, "raw", url, data=b"{}", content_type=f"application/json; charset={charset}")
        fuzz.request(client, "raw", url, data=b"a=b", content_type="text/plain")
        fuzz.request(client, "raw", url, data=b"\x00" * 100, content_type="multipart/form-data; boundary=x")
    for name in ("api:customer-detail", "api:webhook-detail"):
        url = reverse(name, kwargs=world.values[name])
        for method in ("put", "patch", "delete"):
            fuzz.request(client, method, url, data=DEEP, content_type="application/json")
    _report(fuzz)


def _report(fuzz: Fuzz) -> None:
    FUZZ.sent += fuzz.sent
    FUZZ.statuses.update(fuzz.statuses)
    FUZZ.failures += fuzz.failures
    print(f"{fuzz.sent} requests: {dict(fuzz.statuses)}")
    assert sum(fuzz.statuses.values()) + len(fuzz.failures) == fuzz.sent
    assert fuzz.failures == [], "\n".join(fuzz.failures[:60])
