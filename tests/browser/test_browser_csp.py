"""The strict Content-Security-Policy breaks nothing: real pages in Chromium report no violation,
and htmx still works (loaded, eval off, an inline form swaps in)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from feedback.models import hash_token, new_token
from tests.browser.test_browser_survey import _log_in
from tests.factories import CustomerFactory, SurveyInvitationFactory, TouchPointFactory
from touchpoints.careplan import careplan_token

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Installed before any page script: every violation the browser reports is kept on window.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  const where = `${e.sourceFile}:${e.lineNumber}`;
  window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${where}`);
});
"""


@pytest.fixture
def watched(page):
    """The page, recording CSP violations (event and console) for `assert_clean`."""
    console: list[str] = []
    page.add_init_script(RECORD_VIOLATIONS)
    page.on("console", lambda msg: console.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.console_csp = console
    return page


def assert_clean(page, where: str) -> None:
    page.wait_for_load_state("networkidle")
    violations = page.evaluate("window.__cspViolations") + page.console_csp
    assert violations == [], f"{where}: {violations}"


def test_my_day_and_an_htmx_form_work_under_the_csp(watched, live_server, alice):
    customer = CustomerFactory(owner=alice, name="Nadia Ortega")
    checkup = TouchPointFactory(customer=customer, assignee=alice, objective="Check the installation works")

    _log_in(watched, live_server.url, "alice")
    watched.wait_for_url(f"{live_server.url}/my-day/")
    assert watched.evaluate("typeof htmx") == "object", "htmx loaded under the CSP"
    assert watched.evaluate("htmx.config.allowEval") is False
    assert watched.evaluate("htmx.config.includeIndicatorStyles") is False
    assert_clean(watched, "My day")

    row = watched.locator(f"#touchpoint-{checkup.pk}")
    row.get_by_role("link", name="Log the check-up with Nadia Ortega").click()
    row.get_by_label("Notes").wait_for()
    assert watched.url == f"{live_server.url}/my-day/", "the form opened in place (htmx), not as a page"
    assert_clean(watched, "My day with the inline form")

    watched.goto(f"{live_server.url}{customer.get_absolute_url()}")
    assert_clean(watched, "customer page")


def test_the_dashboard_and_the_dev_mailbox_have_no_violations(watched, live_server, mary, settings):
    settings.EMAIL_BACKEND = "aftersales.mail.mailbox.DevMailboxBackend"
    mary.is_staff = True
    mary.save()
    from aftersales.mail.models import MailboxMessage

    mail = MailboxMessage.objects.create(
        from_email="a@example.com",
        to="b@example.com",
        subject="Styled mail",
        body_html='<p style="color:#333">Hello <b>there</b></p>',
        body_text="Hello there",
        raw="Subject: Styled mail\n\nHello there",
    )

    _log_in(watched, live_server.url, "mary")
    watched.wait_for_url(f"{live_server.url}/dashboard/")
    assert_clean(watched, "dashboard")

    watched.goto(f"{live_server.url}{reverse('mailbox:detail', args=[mail.pk])}")
    frame = watched.frame_locator("iframe.mail-html")
    assert frame.get_by_text("there").is_visible(), "the mail's HTML renders in its sandboxed frame"
    assert_clean(watched, "dev mailbox")


def test_the_public_survey_and_care_plan_pages_have_no_violations(watched, live_server):
    customer = CustomerFactory(name="Lucía Gómez")
    token = new_token()
    SurveyInvitationFactory(customer=customer, token_hash=hash_token(token))

    watched.goto(f"{live_server.url}{reverse('feedback:survey', args=[token])}?score=9")
    watched.get_by_role("button").first.wait_for()
    assert_clean(watched, "survey page")

    watched.goto(f"{live_server.url}{reverse('careplan', args=[careplan_token(customer)])}")
    assert_clean(watched, "care-plan page")


@pytest.mark.parametrize(
    ("path", "role", "operation"),
    [
        # Swagger UI links each operation by its path; Redoc heads each one with its operationId.
        ("/api/docs/", "link", "/api/purchases/"),
        ("/api/redoc/", "heading", "purchases_create"),
    ],
    ids=["swagger", "redoc"],
)
def test_the_api_docs_render_the_api_under_the_csp(watched, live_server, mary, path, role, operation):
    """docs/API.md sends integrators to both pages: each renders the API's operations, with no CSP
    violation and no script error."""
    errors: list[str] = []
    watched.on("pageerror", lambda exc: errors.append(str(exc)))
    _log_in(watched, live_server.url, "mary")
    watched.wait_for_url(f"{live_server.url}/dashboard/")

    watched.goto(f"{live_server.url}{path}")
    watched.get_by_role(role, name=operation).first.wait_for(state="visible")
    assert_clean(watched, path)
    assert errors == [], f"{path}: {errors}"
