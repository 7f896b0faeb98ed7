"""The pages a customer opens from our mail fit a phone: at 360 and 390 px, in en, es and ru, with
long names and objectives, nothing scrolls sideways and no text is squeezed into a narrow column."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from aftersales.core.models import UserProfile
from customers.models import Customer
from feedback.models import hash_token, new_token
from feedback.services.unsubscribe import unsubscribe_token
from tests.browser.conftest import ARTIFACTS
from tests.factories import (
    CustomerFactory,
    ProductFactory,
    PurchaseFactory,
    RepFactory,
    SurveyInvitationFactory,
    SurveyResponseFactory,
    TouchPointFactory,
)
from touchpoints.careplan import careplan_token
from touchpoints.models import Channel, Kind

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = (360, 390)
LANGUAGES = ("en", "es", "ru")
MIN_COLUMN_PX = 120

# Run in the page: every way a phone reader would have to scroll sideways or read a squeezed column.
LAYOUT_PROBLEMS = """
(minColumn) => {
  const problems = [];
  const root = document.documentElement;
  if (root.scrollWidth > root.clientWidth) {
    problems.push(`the page scrolls sideways: ${root.scrollWidth} px wide in a ${root.clientWidth} px window`);
  }
  const describe = (el) => `<${el.tagName.toLowerCase()}> "${el.textContent.trim().slice(0, 40)}"`;
  for (const el of document.body.querySelectorAll("*")) {
    const style = getComputedStyle(el);
    if (style.display === "none" || style.visibility === "hidden") continue;
    if (style.overflowX !== "visible" && el.scrollWidth > el.clientWidth + 1) {
      problems.push(`${describe(el)} hides or scrolls ${el.scrollWidth - el.clientWidth} px of its content sideways`);
    }
    const texts = [...el.childNodes].filter((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
    if (!texts.length) continue;
    const width = el.getBoundingClientRect().width;
    if (el.matches("td, th") && width < minColumn) {
      problems.push(`${describe(el)} is a ${Math.round(width)} px column`);
      continue;
    }
    // A text that wraps inside a box narrower than a column a phone reader can follow.
    const range = document.createRange();
    const lines = new Set();
    for (const node of texts) {
      range.selectNodeContents(node);
      for (const rect of range.getClientRects()) if (rect.width > 0) lines.add(Math.round(rect.top));
    }
    if (width < minColumn && lines.size > 1) {
      problems.push(`${describe(el)} wraps over ${lines.size} lines in ${Math.round(width)} px`);
    }
  }
  return problems;
}
"""


def _customer_pages(language: str) -> dict[str, str]:
    """Every page a customer reaches from our mail, for one customer in `language`, with long texts."""
    rep = RepFactory(
        first_name="Maximiliano Alejandro",
        last_name="Fernández de la Torre",
        email=f"maximiliano.fernandez.delatorre.{language}@servicio-posventa.example.com",
    )
    UserProfile.objects.update_or_create(user=rep, defaults={"phone": "+34 600 123 456 ext. 7890"})
    customer = CustomerFactory(
        owner=rep,
        language=language,
        timezone="Europe/Madrid",
        name="María Guadalupe Fernández-Villanueva de los Ángeles",
        email=f"maria.guadalupe.fernandez.villanueva.{language}@correo-electronico.example.com",
    )
    product = ProductFactory(name="Máquina de café espresso profesional de doble grupo Deluxe 3000")
    purchase = PurchaseFactory(customer=customer, product=product, renewal_date=dt.date(2027, 9, 29))
    now = timezone.now()
    for days, channel, objective in (
        (3, Channel.CALL, "Check the installation works and that everyone who uses it knows the daily cleaning."),
        (30, Channel.VISIT, "Descale it together, replace the water filter and review the maintenance schedule."),
        (90, Channel.MEETING, "Review how it has gone over the first three months: https://example.com/guide/x"),
    ):
        TouchPointFactory(
            customer=customer, purchase=purchase, channel=channel, objective=objective, due_at=now + dt.timedelta(days)
        )
    TouchPointFactory(customer=customer, purchase=purchase, kind=Kind.RENEWAL, due_at=now + dt.timedelta(days=120))

    token = new_token()
    invitation = SurveyInvitationFactory(customer=customer, token_hash=hash_token(token), language=language)
    # A detractor who asked for help: the thank-you page's longest wording (the call back is promised).
    SurveyResponseFactory(invitation=invitation, nps=3, csat=2, loop_pending="nps", comment="Tarde.")
    return {
        "care plan": reverse("careplan", args=[careplan_token(customer)]),
        "survey": reverse("feedback:survey", args=[token]),
        "thank-you": reverse("feedback:thanks", args=[token]),
        "unsubscribe": reverse("feedback:unsubscribe", args=[unsubscribe_token(customer)]),
        "broken survey link": reverse("feedback:survey", args=["not-a-token"]),
        "broken care-plan link": reverse("careplan", args=["not-a-token"]),
    }


def test_customer_pages_fit_a_phone_in_every_language(chromium, live_server, settings):
    # Six pages, three languages, two widths, all from this one client address.
    settings.AFTERSALES = {**settings.AFTERSALES, "PUBLIC_RATE_LIMIT_PER_MINUTE": 1000}
    pages = {language: _customer_pages(language) for language in LANGUAGES}
    problems: list[str] = []
    ARTIFACTS.mkdir(exist_ok=True)

    def check(page, where: str) -> None:
        found = page.evaluate(LAYOUT_PROBLEMS, MIN_COLUMN_PX)
        if found:
            page.screenshot(path=str(ARTIFACTS / f"phone-layout {where}.png"), full_page=True)
            problems.extend(f"{where}: {problem}" for problem in found)

    for width in WIDTHS:
        context = chromium.new_context(viewport={"width": width, "height": 800}, is_mobile=True)
        context.set_default_timeout(10_000)
        page = context.new_page()
        for language, urls in pages.items():
            # The broken-link pages have no customer: they speak the browser's language.
            page.set_extra_http_headers({"Accept-Language": language})
            for name, url in urls.items():
                page.goto(f"{live_server.url}{url}")
                assert page.locator("html").get_attribute("lang") == language, f"{name} in {language}"
                check(page, f"{name} {language} {width}px")
            # Unsubscribing shows the last page; the customer is subscribed again for the next width.
            page.goto(f"{live_server.url}{urls['unsubscribe']}")
            with page.expect_navigation():
                page.locator("form button[type=submit]").click()
            check(page, f"unsubscribed {language} {width}px")
            Customer.objects.filter(language=language).update(email_opt_out=False)
        context.close()

    assert problems == [], "\n".join(problems)
