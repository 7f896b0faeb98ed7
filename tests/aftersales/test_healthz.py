"""GET /healthz: 200 when the database and the broker answer, 503 naming what is down."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from django.db import connection

from aftersales.celery import app as celery_app


def _unused_port() -> int:
    """A local TCP port nothing listens on (the OS just handed it out and we closed it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def dead_broker(monkeypatch):
    """Point the Celery app at a Redis port where nothing listens."""
    url = f"redis://127.0.0.1:{_unused_port()}/0"
    saved = celery_app.conf.broker_url
    # Celery prefers the CELERY_BROKER_URL environment variable over its
    # configuration when both are set, as in CI: change both.
    monkeypatch.setenv("CELERY_BROKER_URL", url)
    celery_app.conf.broker_url = url
    yield
    celery_app.conf.broker_url = saved


@pytest.fixture
def dead_database(transactional_db, tmp_path: Path):
    """Make the next connection of the default database fail, as when the server is gone.

    A real failed connection, not a stub of the check: the connection is
    closed and re-opened with parameters no database answers to.
    Transactional, so closing the connection does not discard a test transaction.
    """
    saved = dict(connection.settings_dict)
    connection.close()
    if connection.vendor == "sqlite":
        connection.settings_dict["NAME"] = str(tmp_path / "no-such-dir" / "db.sqlite3")
    else:
        connection.settings_dict.update(HOST="127.0.0.1", PORT=str(_unused_port()))
    yield
    connection.close()
    connection.settings_dict.clear()
    connection.settings_dict.update(saved)


@pytest.mark.smoke
@pytest.mark.django_db
def test_healthz_is_200_when_database_and_broker_answer(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_healthz_is_503_naming_the_broker_when_it_is_down(client, dead_broker):
    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {"status": "down", "checks": {"database": "ok", "broker": "down"}}


def test_healthz_is_503_naming_the_database_when_it_is_down(client, dead_database):
    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {"status": "down", "checks": {"database": "down", "broker": "ok"}}


@pytest.mark.django_db
def test_healthz_answers_get_only(client):
    assert client.post("/healthz").status_code == 405
