"""A refused or missing page is one line in the log: no traceback, not printed twice. Errors keep theirs."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest
from django.urls import reverse

from tests.conftest import ROOT
from tests.factories import CustomerFactory


@pytest.mark.parametrize(
    ("url", "status", "message"),
    [
        # A rep opening the managers' health weights: PermissionDenied.
        (lambda bob: reverse("risk:weights"), 403, "Forbidden (Permission denied): /risk/weights/"),
        # A rep opening another rep's customer: not in their queryset.
        (lambda bob: CustomerFactory(owner=bob).get_absolute_url(), 404, "Not Found: /customers/"),
    ],
    ids=["403", "404"],
)
def test_a_403_or_404_logs_one_line_without_a_traceback(alice_client, bob, caplog, url, status, message):
    path = url(bob)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        response = alice_client.get(path)

    assert response.status_code == status
    assert [(r.name, r.levelname) for r in caplog.records] == [("django.request", "WARNING")]
    record = caplog.records[0]
    assert record.getMessage().startswith(message)
    assert record.exc_info is None and record.exc_text is None


def test_a_server_error_keeps_its_traceback():
    """The filter only quiets 4xx: a 500's record goes out with its exception."""
    from aftersales.core.logfilters import ClientErrorWithoutTraceback

    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.LogRecord("django.request", logging.ERROR, __file__, 1, "Internal Server Error: /", (), None)
        record.exc_info = sys.exc_info()
    record.status_code = 500

    assert ClientErrorWithoutTraceback().filter(record)
    assert record.exc_info is not None


def test_under_debug_a_404_is_printed_once(tmp_path):
    """`make run` runs with DEBUG=true, where Django's own console handler used to print each line again."""
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "VAR_DIR": str(tmp_path), "DEBUG": "true"}
    env["DJANGO_SETTINGS_MODULE"] = "aftersales.settings"
    script = "import django; django.setup(); from django.test import Client; Client().get('/no-such-page/')"

    result = subprocess.run(  # noqa: S603 — our own interpreter, a fixed script
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
    assert result.stderr.count("Not Found: /no-such-page/") == 1, result.stderr
