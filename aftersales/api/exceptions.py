"""One shape for every 400 of the API: ``{"field": ["message", …]}``, ``non_field_errors`` for the body as a whole.

DRF answers a serializer's errors in that shape already; a parse error, or a
ValidationError raised with a bare message, would come out as ``{"detail": …}``
or a bare list. Clients handle one shape. A body over DATA_UPLOAD_MAX_MEMORY_SIZE
is a 413 in JSON too, not Django's HTML page.
"""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler


class BodyTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"


def api_exception_handler(exc, context):
    if isinstance(exc, RequestDataTooBig):
        # Django's own answer would be an HTML page; an API client reads JSON.
        exc = BodyTooLarge(_("The request body is larger than this server accepts."))
    response = exception_handler(exc, context)
    if response is None or response.status_code != status.HTTP_400_BAD_REQUEST:
        return response
    data = response.data
    key = api_settings.NON_FIELD_ERRORS_KEY
    if isinstance(data, list):
        response.data = {key: data}
    elif isinstance(data, dict) and set(data) == {"detail"}:
        response.data = {key: [data["detail"]]}
    elif isinstance(data, dict):
        response.data = {name: value if isinstance(value, list | dict) else [value] for name, value in data.items()}
    else:
        response.data = {key: [data]}
    return response
