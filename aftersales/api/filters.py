"""Query-string filters of the API, checked like form fields: a bad value is a 400 naming the parameter."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.dateparse import parse_date
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination

from aftersales.core import inputs


class Pagination(PageNumberPagination):
    """Pages of 50 by default; ``page_size`` up to 500 for scripts that sync everything."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


# Ids are 64-bit in the database; a larger number is not an id (and SQLite would overflow on it).
MAX_ID = 2**63 - 1
# Detail routes only match ids of up to 18 digits: anything longer is a 404, not a database error.
ID_REGEX = r"[0-9]{1,18}"


def int_param(request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError({name: [f"{raw!r} is not a whole number."]}) from None
    if not 0 <= value <= MAX_ID:
        raise ValidationError({name: [f"{raw!r} is not a valid id."]})
    return value


def text_param(request, name: str) -> str:
    raw = request.query_params.get(name, "").strip()
    if "\x00" in raw:
        raise ValidationError({name: ["Null characters are not allowed."]})
    return raw


def bool_param(request, name: str) -> bool | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    if raw.lower() in ("1", "true", "yes"):
        return True
    if raw.lower() in ("0", "false", "no"):
        return False
    raise ValidationError({name: [f"{raw!r} is not true or false."]})


def date_param(request, name: str) -> dt.date | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    try:
        value = parse_date(raw)
    except ValueError:
        value = None
    if value is None:
        raise ValidationError({name: [f"{raw!r} is not a date (YYYY-MM-DD)."]})
    try:
        return inputs.check_date(value, label=name)
    except DjangoValidationError as exc:
        raise ValidationError({name: exc.messages}) from None


def choice_param(request, name: str, choices) -> str | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    if raw not in choices:
        raise ValidationError({name: [f"{raw!r} is not one of: {', '.join(choices)}."]})
    return raw
