"""Resolving a risk flag: the customer's rep or a manager, once, with what settled it, audited, health due again."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError

from aftersales.audit.models import AuditAction, AuditEvent
from customers.models import Customer, FlagReason, RiskFlag
from customers.services import riskflag_resolve
from tests.factories import CustomerFactory, RiskFlagFactory

pytestmark = pytest.mark.django_db

RAISED = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
NOW = RAISED + dt.timedelta(days=3)


@pytest.fixture(autouse=True)
def frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture
def flag(alice):
    customer = CustomerFactory(owner=alice, name="Nadia Ortega", health_due_at=None)
    return RiskFlagFactory(customer=customer, reason=FlagReason.DETRACTOR, raised_at=RAISED)


def test_the_owner_resolves_a_flag_and_who_when_and_why_are_kept(alice, flag):
    resolved = riskflag_resolve(flag=flag, by=alice, resolution="  Called back, new part on its way.  ")

    flag.refresh_from_db()
    assert (flag.resolved_at, flag.resolved_by, flag.resolution) == (NOW, alice, "Called back, new part on its way.")
    assert resolved.pk == flag.pk and not flag.is_open
    assert not RiskFlag.objects.open().filter(customer=flag.customer).exists()


def test_resolving_is_audited_on_the_customer_page(alice, flag):
    riskflag_resolve(flag=flag, by=alice, resolution="Called back")

    event = AuditEvent.objects.get(object_type="customers.riskflag", object_id=flag.pk)
    assert (event.actor, event.action, event.customer_id) == (alice, AuditAction.RESOLVED, flag.customer_id)
    assert event.changes == {
        "reason": [None, "detractor"],
        "resolution": [None, "Called back"],
        "open_for": [None, "3\xa0days"],
    }


def test_resolving_makes_the_customer_health_due(alice, flag):
    """An open flag weighs on the score: the health sweep must look at the customer again."""
    riskflag_resolve(flag=flag, by=alice, resolution="Called back")

    assert Customer.objects.get(pk=flag.customer_id).health_due_at == NOW


def test_a_manager_resolves_any_customers_flag(mary, flag):
    riskflag_resolve(flag=flag, by=mary, resolution="Handled by the service team")

    flag.refresh_from_db()
    assert flag.resolved_by == mary


def test_another_rep_may_not_resolve_it_and_nothing_changes(bob, flag):
    with pytest.raises(PermissionDenied):
        riskflag_resolve(flag=flag, by=bob, resolution="Not mine")

    flag.refresh_from_db()
    assert flag.is_open and flag.resolution == ""
    assert not AuditEvent.objects.exists()
    assert Customer.objects.get(pk=flag.customer_id).health_due_at is None


def test_a_resolved_flag_cannot_be_resolved_again(alice, mary, flag):
    riskflag_resolve(flag=flag, by=alice, resolution="Called back")

    with pytest.raises(ValidationError) as refused:
        riskflag_resolve(flag=flag, by=mary, resolution="Me too")

    assert refused.value.code == "resolved"
    assert "was already resolved by Alice Archer" in refused.value.messages[0]
    flag.refresh_from_db()
    assert (flag.resolved_by, flag.resolution) == (alice, "Called back")
    assert AuditEvent.objects.filter(action=AuditAction.RESOLVED).count() == 1


@pytest.mark.parametrize("resolution", ["", "   ", "x" * 501])
def test_a_resolution_is_required_and_bounded(alice, flag, resolution):
    with pytest.raises(ValidationError) as refused:
        riskflag_resolve(flag=flag, by=alice, resolution=resolution)

    assert set(refused.value.message_dict) == {"resolution"}
    flag.refresh_from_db()
    assert flag.is_open
    assert not AuditEvent.objects.exists()


def test_a_new_flag_for_the_same_reason_can_be_raised_after_resolving(alice, flag):
    """One open flag per reason: resolving frees the slot for the next time it happens."""
    riskflag_resolve(flag=flag, by=alice, resolution="Called back")

    again = RiskFlagFactory(customer=flag.customer, reason=FlagReason.DETRACTOR)

    assert list(RiskFlag.objects.open().filter(customer=flag.customer)) == [again]


def test_the_refusal_speaks_the_users_language(alice, flag, compiled_messages):
    from django.utils import translation

    riskflag_resolve(flag=flag, by=alice, resolution="Called back")

    with translation.override("es"), pytest.raises(ValidationError) as refused:
        riskflag_resolve(flag=flag, by=alice, resolution="Otra vez")

    assert refused.value.messages == ["«Detractor» ya la resolvió Alice Archer; no se ha cambiado nada."]
