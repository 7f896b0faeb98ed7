"""Shared fixtures. Named users as in the style guide: alice and bob are reps,
mary is their manager; each test builds the rest with factories."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils.translation import trans_real

from tests.factories import ManagerFactory, RepFactory

PASSWORD = "correct horse battery staple"
# The checkout: manage.py, docs/ and test-artifacts/ are found from here, wherever the test file sits.
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    """Hashing with the production hasher costs ~0.1 s per user; tests make many."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _empty_cache():
    """Every test starts with an empty cache: per-IP rate-limit counts (aftersales/core/http.py) live there."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def alice(db):
    return RepFactory(username="alice", first_name="Alice", last_name="Archer")


@pytest.fixture
def bob(db):
    return RepFactory(username="bob", first_name="Bob", last_name="Baker")


@pytest.fixture
def mary(db):
    return ManagerFactory(username="mary", first_name="Mary", last_name="Manning")


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def mary_client(client, mary):
    client.force_login(mary)
    return client


@pytest.fixture(autouse=True)
def _unhashed_static_files(settings):
    """Tests do not run collectstatic: resolve {% static %} without the manifest."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(scope="session")
def compiled_messages():
    """Compiled catalogues for tests of es/ru text.

    `make test` compiles them; a bare `pytest` run on a fresh checkout does it here.
    """
    stale = [
        po
        for po in Path(settings.LOCALE_PATHS[0]).glob("*/LC_MESSAGES/django.po")
        if not po.with_suffix(".mo").exists() or po.with_suffix(".mo").stat().st_mtime < po.stat().st_mtime
    ]
    if stale:
        call_command("compilemessages", locale=[po.parent.parent.name for po in stale], verbosity=0)
        trans_real._translations = {}
        trans_real._active = trans_real.Local()
        trans_real._default = None
