"""Risk flags (customers/services/flags.py): one open flag per reason, details appended, snoozes bounded."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from aftersales.audit.models import AuditAction, AuditEvent
from customers.models import Customer, FlagReason, RiskFlag
from customers.services import riskflag_raise, riskflag_snooze, riskflags_raise
from customers.services.flags import FLAG_DETAIL_MAX_LENGTH, SNOOZE_MAX_DAYS
from tests.factories import CustomerFactory, RiskFlagFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)  # a Monday
DAY = dt.timedelta(days=1)


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def customer(alice):
    return CustomerFactory(owner=alice, name="Nadia Ortega")


# --- Raising ------------------------------------------------------------------------------------


def test_a_detail_that_would_overflow_the_open_flag_is_cut_with_an_ellipsis(customer):
    old = "Survey 2 Mar 2026: NPS 2: " + "x" * (FLAG_DETAIL_MAX_LENGTH - 60)
    flag = RiskFlagFactory(customer=customer, reason=FlagReason.DETRACTOR, detail=old)

    again = riskflag_raise(
        customer=customer, reason=FlagReason.DETRACTOR, detail="Survey 9 Mar 2026: NPS 1: it broke down again last week"
    )

    assert again.pk == flag.pk
    stored = RiskFlag.objects.get(pk=flag.pk).detail
    assert len(stored) == FLAG_DETAIL_MAX_LENGTH, "the column's length, not one character more"
    assert stored.startswith(old + "\nSurvey 9 Mar 2026")
    assert stored.endswith("…")


def test_a_raise_marks_the_customers_health_due_unless_the_caller_already_did(clock, alice):
    computed, marked_by_caller = CustomerFactory(owner=alice), CustomerFactory(owner=alice)
    Customer.objects.filter(pk__in=[computed.pk, marked_by_caller.pk]).update(health_due_at=None)

    riskflags_raise(customer=computed, reasons=[FlagReason.LOW_CSAT], detail="CSAT 1")
    riskflags_raise(customer=marked_by_caller, reasons=[FlagReason.LOW_CSAT], detail="CSAT 1", health_marked=True)

    assert Customer.objects.get(pk=computed.pk).health_due_at == NOW, "an open problem moves the score"
    assert Customer.objects.get(pk=marked_by_caller.pk).health_due_at is None, "no second UPDATE of the row"
    assert RiskFlag.objects.open().filter(reason=FlagReason.LOW_CSAT).count() == 2


@pytest.mark.django_db(transaction=True)
def test_two_raises_of_one_reason_at_once_leave_one_flag_with_both_details(customer, monkeypatch):
    """Real concurrency on PostgreSQL: both read no open flag, both INSERT; the partial unique index
    lets one win and the other appends its detail to the winner's flag, inside a savepoint."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite's IMMEDIATE transactions run one writer at a time: no race to win")
    both_read = threading.Barrier(2, timeout=10)
    real_bulk_create = RiskFlag.objects.bulk_create

    def bulk_create_after_both_read(*args, **kwargs):
        both_read.wait()  # both found no open flag; neither has inserted
        return real_bulk_create(*args, **kwargs)

    monkeypatch.setattr(RiskFlag.objects, "bulk_create", bulk_create_after_both_read)
    results, errors = [], []

    def raise_flag(detail: str) -> None:
        try:
            with transaction.atomic():  # as every caller does: the open flags are read FOR UPDATE
                results.append(riskflag_raise(customer=customer, reason=FlagReason.PROBLEM_REPORTED, detail=detail))
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=raise_flag, args=(detail,)) for detail in ("Call: no heat", "Mail: cold")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    [flag] = RiskFlag.objects.open().filter(customer=customer)
    assert {result.pk for result in results} == {flag.pk}, "both callers get the one open flag"
    assert sorted(flag.detail.splitlines()) == ["Call: no heat", "Mail: cold"]
    assert AuditEvent.objects.filter(action=AuditAction.RAISED).count() == 1, "raised once, appended once"


# --- Snoozing -----------------------------------------------------------------------------------


def test_a_snooze_of_exactly_the_longest_span_is_kept_with_its_reason(clock, alice, customer):
    flag = RiskFlagFactory(customer=customer)
    until = NOW + SNOOZE_MAX_DAYS * DAY

    riskflag_snooze(flag=flag, until=until, reason="  Back from the trade fair in June  ", by=alice)

    flag.refresh_from_db()
    assert flag.snoozed_until == until
    assert flag.data["snooze"]["reason"] == "Back from the trade fair in June"
    assert flag.data["snooze"]["by"] == alice.pk


@pytest.mark.parametrize(
    ("until", "reason", "field"),
    [
        pytest.param(NOW + 7 * DAY, "", "reason", id="no-reason"),
        pytest.param(NOW + 7 * DAY, "   ", "reason", id="blank-reason"),
        pytest.param(NOW + SNOOZE_MAX_DAYS * DAY + dt.timedelta(seconds=1), "Later", "until", id="past-the-longest"),
    ],
)
def test_a_snooze_without_a_reason_or_longer_than_allowed_is_refused(clock, alice, customer, until, reason, field):
    flag = RiskFlagFactory(customer=customer)

    with pytest.raises(ValidationError) as error:
        riskflag_snooze(flag=flag, until=until, reason=reason, by=alice)

    assert field in error.value.message_dict
    flag.refresh_from_db()
    assert flag.snoozed_until is None and "snooze" not in (flag.data or {})
    assert not AuditEvent.objects.filter(action=AuditAction.SNOOZED).exists()


def test_a_flag_resolved_meanwhile_cannot_be_snoozed(clock, alice, customer):
    """The page showed it open; the sweep resolved it before the rep pressed the button."""
    flag = RiskFlagFactory(customer=customer)
    RiskFlag.objects.filter(pk=flag.pk).update(resolved_at=timezone.now())

    with pytest.raises(ValidationError, match="already resolved"):
        riskflag_snooze(flag=flag, until=NOW + 7 * DAY, reason="On holiday", by=alice)

    assert RiskFlag.objects.get(pk=flag.pk).snoozed_until is None
    assert not AuditEvent.objects.filter(action=AuditAction.SNOOZED).exists()
