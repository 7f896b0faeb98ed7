"""The one rule for dates, amounts, currencies and text that come in from outside.

Forms, API serializers, the spreadsheet import and query-string filters all
check here, so a value one of them accepts is a value every later step (the
scheduling arithmetic, the database columns) can hold. Each check raises
Django's ``ValidationError`` with a message that names the field as the
caller calls it (a form label, an API field, a spreadsheet column).

Only Django and the standard library are imported: the domains import this,
never the other way round.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext_lazy as _

# Sales, deliveries and renewals: nothing this product sells predates 2000, and a date
# further ahead than 20 years is a typo (2205 for 2025). The calendar arithmetic of the
# check-up plans (years of offsets either side) stays far from date's limits inside it.
EARLIEST_DATE = dt.date(2000, 1, 1)
YEARS_AHEAD = 20

# The Purchase.amount column holds 12 digits with 2 decimals: below 10^10.
MAX_AMOUNT = Decimal("9999999999.99")

# ISO 4217: the codes in use, and those withdrawn since 2000 (an import of old sales
# may name them). Funds, metals and test codes (XAU, XTS, …) are not sale currencies.
CURRENT_CURRENCIES = """
AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF
CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD
HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD
LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK
PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS
TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG
"""
WITHDRAWN_CURRENCIES = """
ADP AFA ANG ATS AZM BEF BYB BYR CSD CUC CYP DEM ECS EEK ESP FIM FRF GHC GRD HRK IEP ITL LTL LUF LVL MGF
MRO MTL MZM NLG PTE ROL RUR SDD SIT SKK SLL SRG STD TMM TPE TRL VEB VEF YUM ZMK ZWD ZWL ZWN ZWR
"""
CURRENCIES = frozenset((CURRENT_CURRENCIES + WITHDRAWN_CURRENCIES).split())

# Text PostgreSQL cannot store: NUL, and UTF-16 surrogates on their own (a JSON "\ud800").
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")


def latest_date(today: dt.date | None = None) -> dt.date:
    """The last date accepted: today + YEARS_AHEAD years (29 February becomes 28 February)."""
    today = today or timezone.localdate()
    try:
        return today.replace(year=today.year + YEARS_AHEAD)
    except ValueError:
        return today.replace(year=today.year + YEARS_AHEAD, day=28)


def check_date(value: dt.date, *, label: str, today: dt.date | None = None) -> dt.date:
    """``value`` when it lies in the window, else a ValidationError naming ``label``."""
    if isinstance(value, dt.datetime):
        value = value.date()
    latest = latest_date(today)
    if not EARLIEST_DATE <= value <= latest:
        raise ValidationError(
            _("%(field)s: use a date from %(earliest)s to %(latest)s."),
            code="date_range",
            params={"field": label, "earliest": EARLIEST_DATE.isoformat(), "latest": latest.isoformat()},
        )
    return value


def check_amount(value: Decimal | int, *, label: str) -> Decimal:
    """A finite amount from 0 to MAX_AMOUNT, else a ValidationError naming ``label``."""
    try:
        amount = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        amount = Decimal("NaN")
    if not amount.is_finite() or not 0 <= amount <= MAX_AMOUNT:
        raise ValidationError(
            _("%(field)s: use an amount from 0 to %(max)s."),
            code="amount_range",
            params={"field": label, "max": f"{MAX_AMOUNT:,}"},
        )
    return amount


def check_currency(value: str, *, label: str) -> str:
    """The ISO 4217 code in capitals ("eur" → "EUR"), else a ValidationError naming ``label``."""
    code = value.strip().upper() if isinstance(value, str) else ""
    if code not in CURRENCIES:
        raise ValidationError(
            _("%(field)s: use a three-letter currency code (ISO 4217), such as EUR."),
            code="currency",
            params={"field": label},
        )
    return code


def text_error(label: str) -> ValidationError:
    return ValidationError(
        _("%(field)s: the text contains a null character or a broken one; retype it."),
        code="unstorable",
        params={"field": label},
    )


def check_text(value: str, *, label: str) -> str:
    """Text the database can store: no NUL character, no lone surrogate."""
    if _UNSTORABLE.search(value):
        raise text_error(label)
    return value


def storable(value: str) -> bool:
    """False for text with a NUL or a lone surrogate (what ``check_text`` refuses)."""
    return _UNSTORABLE.search(value) is None


def parse_month(text: str, *, label: str, today: dt.date | None = None) -> dt.date:
    """The first day of a "YYYY-MM" month inside the date window; a ValidationError otherwise."""
    match = _MONTH.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None or not 1 <= int(match[2]) <= 12:
        raise ValidationError(_("%(field)s: use a month such as 2026-03."), code="invalid", params={"field": label})
    year, month = int(match[1]), int(match[2])
    latest = latest_date(today)
    # Compared as (year, month): no date is built from a year Python cannot hold (0000, 9999 + 1).
    if not (EARLIEST_DATE.year, EARLIEST_DATE.month) <= (year, month) <= (latest.year, latest.month):
        raise ValidationError(
            _("%(field)s: use a month from %(earliest)s to %(latest)s."),
            code="date_range",
            params={"field": label, "earliest": EARLIEST_DATE.strftime("%Y-%m"), "latest": latest.strftime("%Y-%m")},
        )
    return dt.date(year, month, 1)


@deconstructible
class DateWindowValidator:
    """``check_date`` as a validator of a form or serializer field."""

    def __init__(self, label: str) -> None:
        self.label = label

    def __call__(self, value: dt.date) -> None:
        check_date(value, label=self.label)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DateWindowValidator) and self.label == other.label


@deconstructible
class AmountValidator:
    """``check_amount`` as a validator of a form or serializer field."""

    def __init__(self, label: str) -> None:
        self.label = label

    def __call__(self, value: Decimal) -> None:
        check_amount(value, label=self.label)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AmountValidator) and self.label == other.label
