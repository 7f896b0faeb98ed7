"""{{ customer.phone|phone }}: a number stored in E.164 as people read it."""

from __future__ import annotations

from django import template

from customers.phones import phone_display

register = template.Library()


@register.filter
def phone(value: str) -> str:
    return phone_display(value)
