"""Reading a model's own limits, so that checks and messages agree with the column."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from django.db import models


def field_max_length(model: type[models.Model], name: str) -> int:
    """``model.name``'s ``max_length``; a field without one is a programming error, reported at import."""
    length = getattr(model._meta.get_field(name), "max_length", None)
    if not isinstance(length, int):
        raise ImproperlyConfigured(f"{model._meta.label}.{name} has no max_length.")
    return length
