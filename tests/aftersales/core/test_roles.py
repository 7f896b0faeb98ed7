"""The Managers and Reps groups exist with their permissions, and come back after a flush."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from aftersales.core.roles import MANAGERS, REPS


def _codenames(name: str) -> set[str]:
    return set(Group.objects.get(name=name).permissions.values_list("codename", flat=True))


@pytest.mark.django_db
def test_migration_creates_both_roles_with_their_permissions():
    """Managers may change plans and see the outbox; reps may log check-ups but not edit plans."""
    managers, reps = _codenames(MANAGERS), _codenames(REPS)
    assert {"change_checkupplan", "delete_customer", "view_outboxemail"} <= managers
    assert {"view_customer", "add_purchase", "change_touchpoint"} <= reps
    assert "change_checkupplan" not in reps
    assert "delete_customer" not in reps


@pytest.mark.django_db(transaction=True)
def test_flushing_the_database_keeps_the_roles():
    """A flush empties auth_group; post_migrate puts the roles back with the same permissions."""
    before = (_codenames(MANAGERS), _codenames(REPS))

    call_command("flush", "--noinput", verbosity=0)

    assert (_codenames(MANAGERS), _codenames(REPS)) == before
