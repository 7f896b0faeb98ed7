"""Template tags for survey sections embedded in other apps' pages (the customer page)."""

from __future__ import annotations

from django import template

from feedback.selectors import customer_surveys as _customer_surveys

register = template.Library()


@register.simple_tag
def customer_surveys(customer) -> dict:
    """The customer page's survey section data; the page's view stays unaware of surveys."""
    return _customer_surveys(customer)
