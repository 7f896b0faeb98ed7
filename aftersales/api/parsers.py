"""The API's JSON parser: a body is checked for depth before Python's parser recurses into it.

DRF's own JSONParser hands the body to ``json.load``, which recurses once per
nesting level: ``[[[[…]]]]`` fifty thousand deep ends in a RecursionError (a
500), on every endpoint that parses a body — the token endpoint included,
without logging in. Here the brackets are counted first (strings skipped),
and a body nested deeper than MAX_DEPTH is a 400 before anything recurses.
NaN, Infinity and numbers too large for a float are refused like any other
invalid JSON, and so is text no database can store: a NUL, or a lone
surrogate such as ``"\\ud800"`` (valid JSON, but not valid Unicode).
"""

from __future__ import annotations

import json
import math
import re

from django.utils.translation import gettext as _
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import JSONParser, get_encoding  # type: ignore[attr-defined]  # not in the DRF stubs
from rest_framework.settings import api_settings

from aftersales.core.inputs import storable

# Deeper than anything this API reads (its bodies are flat objects and lists of strings).
MAX_DEPTH = 32
# A string (escapes included) or a bracket: strings are skipped so "[[[" inside one counts for nothing.
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[{]|[\]}]', re.DOTALL)


def _refuse(message: str, field: str | None = None) -> ValidationError:
    return ValidationError({field or api_settings.NON_FIELD_ERRORS_KEY: [message]})


def json_depth_exceeds(text: str, limit: int = MAX_DEPTH) -> bool:
    """True as soon as the brackets of ``text`` open more than ``limit`` levels (linear, no recursion)."""
    depth = 0
    for match in _TOKEN.finditer(text):
        char = match.group()[0]
        if char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is too large a number")
    return value


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a JSON value")


def _unstorable_field(data) -> str | None:
    """The top-level field holding text the database cannot store ("" for the body itself), or None."""
    stack = [(data, "")]
    while stack:
        value, field = stack.pop()
        if isinstance(value, str):
            if not storable(value):
                return field
        elif isinstance(value, dict):
            for key, item in value.items():
                top = field or key
                if not storable(key):
                    return top
                stack.append((item, top))
        elif isinstance(value, list):
            stack.extend((item, field) for item in value)
    return None


class BoundedJSONParser(JSONParser):
    """JSON with a depth limit, finite numbers and storable text only."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = get_encoding(parser_context or {})
        # DRF hands over request.body, which Django has already held to DATA_UPLOAD_MAX_MEMORY_SIZE.
        raw = stream.read()
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            raise _refuse(_("The body is not valid %(encoding)s text.") % {"encoding": encoding}) from None
        if json_depth_exceeds(text):
            raise _refuse(_("The body is nested more than %(depth)d levels deep.") % {"depth": MAX_DEPTH})
        try:
            data = json.loads(text, parse_float=_finite_float, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as exc:
            raise _refuse(_("The body is not valid JSON: %(error)s") % {"error": exc}) from None
        field = _unstorable_field(data)
        if field is not None:
            raise _refuse(_("The text contains a null character or a broken one (a lone surrogate)."), field)
        return data
