"""The one lease module (aftersales/core/leasing.py): claim, backoff, give up, and a lease renewed mid-transaction."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from aftersales.core.leasing import Lease, LeaseLost, backoff
from aftersales.mail.models import OutboxEmail
from tests.factories import OutboxEmailFactory


def test_the_backoff_doubles_from_a_minute_and_stops_at_six_hours():
    assert [backoff(n) for n in (1, 2, 3, 4)] == [dt.timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert backoff(9) == dt.timedelta(minutes=256)
    assert backoff(10) == backoff(30) == dt.timedelta(hours=6)


@pytest.mark.django_db
def test_a_row_is_claimed_once_until_its_lease_runs_out_then_again_with_the_attempt_counted():
    email = OutboxEmailFactory()
    now = timezone.now()
    lease = now + dt.timedelta(seconds=60)

    assert OutboxEmail.objects.claim(email.pk, lease_until=lease, at=now)
    assert not OutboxEmail.objects.claim(email.pk, lease_until=lease, at=now + dt.timedelta(seconds=59))
    assert list(OutboxEmail.objects.expired(at=now + dt.timedelta(seconds=61))) == [email]
    assert OutboxEmail.objects.claim(email.pk, lease_until=lease, at=now + dt.timedelta(seconds=61))
    assert OutboxEmail.objects.get(pk=email.pk).attempts == 2


@pytest.mark.django_db
def test_a_failure_backs_off_then_gives_up_and_a_stale_holder_records_nothing():
    email = OutboxEmailFactory()
    now = timezone.now()
    first = now + dt.timedelta(seconds=60)
    OutboxEmail.objects.claim(email.pk, lease_until=first, at=now)

    assert not OutboxEmail.objects.record_failure(
        email.pk, attempts=1, error="421 busy", lease_until=first, max_attempts=2
    )
    email.refresh_from_db()
    assert (email.leased_until, email.last_error, email.failed_at) == (None, "421 busy", None)
    assert email.send_after >= now + dt.timedelta(minutes=1)

    later = email.send_after
    second = later + dt.timedelta(seconds=60)
    assert OutboxEmail.objects.claim(email.pk, lease_until=second, at=later)
    # A worker still holding the first (long gone) lease reports late: ignored.
    OutboxEmail.objects.record_failure(email.pk, attempts=1, error="stale", lease_until=first, max_attempts=2)
    assert OutboxEmail.objects.get(pk=email.pk).last_error == "421 busy"

    assert OutboxEmail.objects.record_failure(email.pk, attempts=2, error="550 no", lease_until=second, max_attempts=2)
    email.refresh_from_db()
    assert email.failed_at is not None and email.last_error == "550 no" and email.leased_until is None
    assert not OutboxEmail.objects.deliverable(at=later + dt.timedelta(days=1)).exists()


def _as_another_worker(sql: str, params: list):
    """Run ``sql`` on a connection of its own, committed at once: what another worker process sees and does."""
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute(sql.replace("TABLE", OutboxEmail._meta.db_table), params)
            return cursor.fetchall() if cursor.description else cursor.rowcount
    finally:
        other.close()


def test_a_lease_renewed_inside_a_transaction_is_seen_by_other_workers_at_once(transactional_db):
    """A long import renews its lease while its one transaction is open: the renewal must not wait for the
    commit (nobody would see it in time), so it is written on a connection of its own."""
    if connection.vendor != "postgresql":
        pytest.skip("on SQLite the open transaction holds the only write lock: nobody else can claim meanwhile")
    email = OutboxEmailFactory()
    now = timezone.now()
    until = now + dt.timedelta(seconds=30)
    assert OutboxEmail.objects.claim(email.pk, lease_until=until, at=now)  # committed at once, as a worker's claim
    lease = Lease(OutboxEmail.objects.all(), email.pk, until=until, seconds=30)

    with transaction.atomic():
        written = OutboxEmailFactory(subject="written by the long transaction")
        lease.renew(force=True)

        assert lease.until > until
        assert _as_another_worker("SELECT leased_until FROM TABLE WHERE id = %s", [email.pk]) == [(lease.until,)]
        assert _as_another_worker("SELECT id FROM TABLE WHERE id = %s", [written.pk]) == []  # still uncommitted

        # Another worker takes the row over (as it may once a lease has run out): the next renewal says so.
        taken = now + dt.timedelta(hours=1)
        assert _as_another_worker("UPDATE TABLE SET leased_until = %s WHERE id = %s", [taken, email.pk]) == 1
        with pytest.raises(LeaseLost):
            lease.renew(force=True)
    assert OutboxEmail.objects.get(pk=email.pk).leased_until == taken


@pytest.mark.django_db
def test_a_renewal_waits_a_quarter_of_the_lease():
    email = OutboxEmailFactory()
    now = timezone.now()
    until = now + dt.timedelta(seconds=120)
    OutboxEmail.objects.claim(email.pk, lease_until=until, at=now)
    lease = Lease(OutboxEmail.objects.all(), email.pk, until=until, seconds=120)

    lease.renew()  # just claimed: nothing written

    assert lease.until == until and OutboxEmail.objects.get(pk=email.pk).leased_until == until
