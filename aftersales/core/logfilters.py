"""Logging filters used by LOGGING in settings.py."""

from __future__ import annotations

import logging


class ClientErrorWithoutTraceback(logging.Filter):
    """A 4xx answer logs one line, not the traceback of the exception that produced it.

    Django logs a PermissionDenied (403) with its exception attached, so every
    refused page printed a traceback as if the app had failed. A 4xx is the
    client's mistake or a rule doing its job; 5xx records keep their traceback.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if 400 <= getattr(record, "status_code", 500) < 500:
            record.exc_info = None
            record.exc_text = None
        return True
