"""Shared fixtures. Named users as in the style guide: alice and bob are reps,
mary is their manager; each test builds the rest with factories."""

from __future__ import annotations

import pytest

from tests.factories import ManagerFactory, RepFactory

PASSWORD = "correct horse battery staple"


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
