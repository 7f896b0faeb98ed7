"""Phone numbers: checked with Google's libphonenumber (the ``phonenumbers`` package) and stored in E.164.

E.164 is one spelling per number (``+34612345678``), so the duplicate check can
match "+34 612 34 56 78" typed on one day and "+34 612-345-678" on another.
A national number ("612 345 678", or "0034 612 345 678" dialled from Spain)
needs a country to make sense of: the ``PHONE_DEFAULT_REGION`` setting (env
``PHONE_DEFAULT_REGION``, e.g. ``ES``); without it, every number must start
with + and its country code.
"""

from __future__ import annotations

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

EXAMPLE = "+34 612 345 678"


def default_region() -> str | None:
    return getattr(settings, "PHONE_DEFAULT_REGION", None) or None


def phone_normalise(value: str, *, region: str | None = None) -> str:
    """``value`` in E.164, or "" for a blank one; ValidationError (on the phone field) when it is no phone number."""
    text = (value or "").strip()
    if not text:
        return ""
    region = region or default_region()
    if not text.startswith("+") and region is None:
        raise ValidationError(
            _("Phone: start with + and the country code, e.g. %(example)s."),
            code="phone_region",
            params={"example": EXAMPLE},
        )
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValidationError(
            _("Phone: %(value)s is not a valid phone number; write it as %(example)s."),
            code="phone_invalid",
            params={"value": text, "example": EXAMPLE},
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_or_none(value: str) -> str | None:
    """``value`` in E.164, or None when it cannot be read: for look-ups, which never raise."""
    try:
        return phone_normalise(value) or None
    except ValidationError:
        return None


def phone_display(value: str) -> str:
    """A stored number as people read it ("+34 612 34 56 78"); anything that is not a valid number as it is."""
    if not value or not value.startswith("+"):
        return value or ""
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return value
    if not phonenumbers.is_valid_number(number):
        return value
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
