"""Scheduling a plan's check-ups: 10:00 on the customer's clock, weekends, month ends, DST, renewals."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from tests.factories import CheckupPlanFactory, CustomerFactory, PlanStepFactory, ProductFactory, RepFactory
from touchpoints import scheduling
from touchpoints.models import Channel, Kind, TouchPoint
from touchpoints.services import purchase_record

pytestmark = pytest.mark.django_db

UTC = dt.UTC


def make_plan(*offsets: int, skip_weekends: bool = True, renewal_offsets=(), **plan_fields):
    plan = CheckupPlanFactory(skip_weekends=skip_weekends, renewal_offsets_days=list(renewal_offsets), **plan_fields)
    for position, offset in enumerate(offsets, start=1):
        PlanStepFactory(plan=plan, position=position, offset_days=offset, objective=f"Day {offset} review")
    return plan


def record(customer, plan=None, *, ordered_at, delivered_at=None, renewal_date=None, **kwargs):
    product = ProductFactory(default_plan=plan)
    purchase, created = purchase_record(
        customer=customer,
        product=product,
        ordered_at=ordered_at,
        delivered_at=delivered_at,
        renewal_date=renewal_date,
        amount=100,
        **kwargs,
    )
    assert created
    return purchase


def due_times(purchase, kind=None) -> list[dt.datetime]:
    touchpoints = TouchPoint.objects.filter(purchase=purchase).order_by("due_at")
    if kind:
        touchpoints = touchpoints.filter(kind=kind)
    return [tp.due_at.astimezone(UTC) for tp in touchpoints]


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


# --- Pure helpers ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (dt.date(2026, 1, 9), dt.date(2026, 1, 9)),  # Friday stays
        (dt.date(2026, 1, 10), dt.date(2026, 1, 12)),  # Saturday → Monday
        (dt.date(2026, 1, 11), dt.date(2026, 1, 12)),  # Sunday → Monday
        (dt.date(2026, 1, 12), dt.date(2026, 1, 12)),  # Monday stays
    ],
)
def test_skip_weekend_moves_saturday_and_sunday_to_monday(day, expected):
    assert scheduling.skip_weekend(day) == expected


def test_renewal_days_move_a_weekend_back_to_friday_so_the_call_stays_ahead_of_the_renewal():
    # 2026-12-06 is a Sunday: 14 days before is Sunday 22 November.
    assert scheduling.renewal_days(dt.date(2026, 12, 6), [14, 60], skip_weekends=True) == [
        (60, dt.date(2026, 10, 7)),
        (14, dt.date(2026, 11, 20)),
    ]
    assert scheduling.renewal_days(dt.date(2026, 12, 6), [14], skip_weekends=False) == [(14, dt.date(2026, 11, 22))]


# --- Through purchase_record --------------------------------------------------------


@pytest.mark.parametrize(
    ("tz_name", "expected_utc"),
    [
        ("America/New_York", utc(2026, 1, 8, 15, 0)),  # EST, UTC−5
        ("Europe/Madrid", utc(2026, 1, 8, 9, 0)),  # CET, UTC+1
        ("Asia/Tokyo", utc(2026, 1, 8, 1, 0)),  # JST, UTC+9: still the same calendar day there
    ],
)
def test_a_checkup_falls_due_at_ten_in_the_morning_of_the_customers_time_zone(tz_name, expected_utc):
    customer = CustomerFactory(timezone=tz_name)
    with time_machine.travel(utc(2026, 1, 5, 8, 0), tick=False):
        purchase = record(customer, make_plan(3), ordered_at=dt.date(2026, 1, 5))

    assert due_times(purchase) == [expected_utc]
    local = TouchPoint.objects.get(purchase=purchase).due_at.astimezone(customer.tz)
    assert (local.date(), local.hour, local.minute) == (dt.date(2026, 1, 8), 10, 0)


@pytest.mark.parametrize(
    ("skip_weekends", "expected_days"),
    [
        # Monday 5 Jan + 5 = Saturday, + 6 = Sunday: both move to Monday 12 Jan.
        (True, [dt.date(2026, 1, 12), dt.date(2026, 1, 12), dt.date(2026, 1, 13)]),
        (False, [dt.date(2026, 1, 10), dt.date(2026, 1, 11), dt.date(2026, 1, 13)]),
    ],
)
def test_weekend_checkups_move_to_monday_only_when_the_plan_skips_weekends(skip_weekends, expected_days):
    customer = CustomerFactory(timezone="Europe/Madrid")
    with time_machine.travel(utc(2026, 1, 5, 8, 0), tick=False):
        purchase = record(customer, make_plan(5, 6, 8, skip_weekends=skip_weekends), ordered_at=dt.date(2026, 1, 5))

    assert [moment.astimezone(customer.tz).date() for moment in due_times(purchase)] == expected_days


@pytest.mark.parametrize(
    ("start", "offset", "expected"),
    [
        (dt.date(2026, 1, 31), 30, dt.date(2026, 3, 2)),  # 2026 has 28 days in February
        (dt.date(2028, 1, 31), 30, dt.date(2028, 3, 1)),  # a leap year: 29
        (dt.date(2026, 1, 31), 28, dt.date(2026, 3, 2)),  # Saturday 28 Feb → Monday 2 March
        (dt.date(2026, 12, 31), 1, dt.date(2027, 1, 1)),  # across the year end
    ],
)
def test_offsets_count_calendar_days_across_month_and_year_ends(start, offset, expected):
    customer = CustomerFactory(timezone="Europe/Madrid")
    with time_machine.travel(dt.datetime.combine(start, dt.time(6, 0), tzinfo=UTC), tick=False):
        purchase = record(customer, make_plan(offset), ordered_at=start)

    assert [moment.astimezone(customer.tz).date() for moment in due_times(purchase)] == [expected]


@pytest.mark.parametrize(
    ("ordered", "offsets", "expected_utc"),
    [
        # Clocks go forward on Sunday 29 March 2026: 10:00 CET is 09:00 UTC, 10:00 CEST is 08:00 UTC.
        (dt.date(2026, 3, 20), (0, 14), [utc(2026, 3, 20, 9, 0), utc(2026, 4, 3, 8, 0)]),
        # Clocks go back on Sunday 25 October 2026: 10:00 CEST is 08:00 UTC, 10:00 CET is 09:00 UTC.
        (dt.date(2026, 10, 19), (0, 7), [utc(2026, 10, 19, 8, 0), utc(2026, 10, 26, 9, 0)]),
    ],
)
def test_checkups_stay_at_ten_local_across_a_daylight_saving_change(ordered, offsets, expected_utc):
    customer = CustomerFactory(timezone="Europe/Madrid")
    with time_machine.travel(dt.datetime.combine(ordered, dt.time(6, 0), tzinfo=UTC), tick=False):
        purchase = record(customer, make_plan(*offsets), ordered_at=ordered)

    assert due_times(purchase) == expected_utc
    assert {moment.astimezone(customer.tz).hour for moment in due_times(purchase)} == {10}


def test_offsets_count_from_delivery_and_from_the_order_when_nothing_was_delivered():
    customer = CustomerFactory(timezone="UTC")
    with time_machine.travel(utc(2026, 1, 5, 6, 0), tick=False):
        delivered = record(customer, make_plan(2), ordered_at=dt.date(2026, 1, 5), delivered_at=dt.date(2026, 1, 12))
        undelivered = record(customer, make_plan(2), ordered_at=dt.date(2026, 1, 5))

    assert due_times(delivered) == [utc(2026, 1, 14, 10, 0)]
    assert due_times(undelivered) == [utc(2026, 1, 7, 10, 0)]


def test_each_step_becomes_a_planned_touchpoint_for_the_owner_with_the_steps_words():
    owner, recorder = RepFactory(), RepFactory()
    customer = CustomerFactory(owner=owner)
    plan = make_plan()
    step = PlanStepFactory(
        plan=plan,
        position=1,
        offset_days=7,
        channel=Channel.VISIT,
        objective="Show the 3 features",
        survey_follows=True,
    )
    with time_machine.travel(utc(2026, 1, 5, 6, 0), tick=False):
        purchase = record(customer, plan, ordered_at=dt.date(2026, 1, 5), recorded_by=recorder)

    touchpoint = TouchPoint.objects.get(purchase=purchase)
    assert touchpoint.customer == customer
    assert touchpoint.assignee == owner
    assert touchpoint.created_by == recorder
    assert touchpoint.kind == Kind.PLANNED
    assert touchpoint.plan_step == step
    assert (touchpoint.channel, touchpoint.objective, touchpoint.survey_follows) == (
        Channel.VISIT,
        "Show the 3 features",
        True,
    )


def test_a_purchases_own_plan_wins_over_the_products_default_and_an_inactive_plan_schedules_nothing():
    customer = CustomerFactory()
    with time_machine.travel(utc(2026, 1, 5, 6, 0), tick=False):
        own = purchase_record(
            customer=customer,
            product=ProductFactory(default_plan=make_plan(30)),
            plan=make_plan(3),
            ordered_at=dt.date(2026, 1, 5),
            amount=10,
        )[0]
        inactive_default = record(customer, make_plan(3, active=False), ordered_at=dt.date(2026, 1, 5))

    assert due_times(own) == [utc(2026, 1, 8, 10, 0)]
    assert due_times(inactive_default) == []


def test_checkups_whose_day_has_passed_are_not_scheduled_but_one_due_today_is():
    customer = CustomerFactory(timezone="Asia/Tokyo")
    # 20:00 UTC on 14 Jan is already 15 Jan in Tokyo.
    with time_machine.travel(utc(2026, 1, 14, 20, 0), tick=False):
        purchase = record(customer, make_plan(3, 10, 30, skip_weekends=False), ordered_at=dt.date(2026, 1, 5))

    assert [moment.astimezone(customer.tz).date() for moment in due_times(purchase)] == [
        dt.date(2026, 1, 15),
        dt.date(2026, 2, 4),
    ]


# --- Renewals ----------------------------------------------------------------------


def test_a_renewal_date_schedules_renewal_calls_60_and_14_days_ahead_by_default():
    customer = CustomerFactory(timezone="Europe/Madrid")
    with time_machine.travel(utc(2026, 1, 5, 6, 0), tick=False):
        purchase = record(customer, make_plan(3), ordered_at=dt.date(2026, 1, 5), renewal_date=dt.date(2026, 12, 1))

    renewals = TouchPoint.objects.filter(purchase=purchase, kind=Kind.RENEWAL).order_by("due_at")
    # Tuesday 1 Dec 2026: 60 days before is Friday 2 Oct (CEST), 14 days before Tuesday 17 Nov (CET).
    assert [tp.due_at for tp in renewals] == [utc(2026, 10, 2, 8, 0), utc(2026, 11, 17, 9, 0)]
    assert all(tp.channel == Channel.CALL and tp.assignee == customer.owner for tp in renewals)
    assert "Renewal on 01 Dec 2026" in renewals[0].objective


def test_renewal_calls_without_any_plan_still_use_the_defaults():
    customer = CustomerFactory(timezone="UTC")
    with time_machine.travel(utc(2026, 1, 5, 6, 0), tick=False):
        purchase = record(customer, None, ordered_at=dt.date(2026, 1, 5), renewal_date=dt.date(2026, 12, 1))

    assert due_times(purchase, Kind.RENEWAL) == [utc(2026, 10, 2, 10, 0), utc(2026, 11, 17, 10, 0)]
    assert due_times(purchase, Kind.PLANNED) == []


@pytest.mark.parametrize(
    ("skip_weekends", "expected_days"),
    # Sunday 6 Dec 2026: 30 days before is Friday 6 Nov, 7 days before Sunday 29 Nov.
    [(True, [dt.date(2026, 11, 6), dt.date(2026, 11, 27)]), (False, [dt.date(2026, 11, 6), dt.date(2026, 11, 29)])],
)
def test_the_plans_renewal_offsets_and_weekend_rule_apply_to_renewal_calls(skip_weekends, expected_days):
    customer = CustomerFactory(timezone="UTC")
    plan = make_plan(3, skip_weekends=skip_weekends, renewal_offsets=[7, 30])
    with time_machine.travel(utc(2026, 1, 5, 6, 0), tick=False):
        purchase = record(customer, plan, ordered_at=dt.date(2026, 1, 5), renewal_date=dt.date(2026, 12, 6))

    assert [moment.date() for moment in due_times(purchase, Kind.RENEWAL)] == expected_days


def test_renewal_calls_already_in_the_past_are_skipped():
    customer = CustomerFactory(timezone="UTC")
    with time_machine.travel(utc(2026, 11, 1, 6, 0), tick=False):
        purchase = record(customer, None, ordered_at=dt.date(2025, 12, 1), renewal_date=dt.date(2026, 12, 1))

    assert due_times(purchase, Kind.RENEWAL) == [utc(2026, 11, 17, 10, 0)]
