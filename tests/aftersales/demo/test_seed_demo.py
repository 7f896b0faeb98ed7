"""manage.py seed_demo: demo logins, realistic data that keeps the database's rules, idempotent reruns."""

from __future__ import annotations

import io
import re
import threading
import zoneinfo
from datetime import datetime, timedelta

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.db.models import Count, F, Q
from django.utils import timezone

from aftersales.core.models import UserProfile
from aftersales.core.roles import MANAGERS, REPS
from aftersales.demo import pipeline
from customers.models import Customer, Purchase, RiskFlag
from feedback.models import SurveyInvitation, SurveyResponse
from touchpoints.models import CheckupPlan, TouchPoint

pytestmark = pytest.mark.django_db

N = 30


def seed(**options) -> str:
    out = io.StringIO()
    call_command("seed_demo", customers=options.pop("customers", N), stdout=out, stderr=io.StringIO(), **options)
    return out.getvalue()


@pytest.fixture
def seeded(db):
    return seed()


def test_demo_users_log_in_with_the_published_password_in_their_groups(seeded):
    manager, rep1, rep2 = (User.objects.get(username=name) for name in ("manager", "rep1", "rep2"))
    assert list(manager.groups.values_list("name", flat=True)) == [MANAGERS]
    assert manager.is_staff and not manager.is_superuser
    for rep in (rep1, rep2):
        assert list(rep.groups.values_list("name", flat=True)) == [REPS]
        assert not rep.is_staff
    for user in (manager, rep1, rep2):
        assert user.check_password("aftersales-demo")
        assert user.first_name and user.last_name and user.email
        assert UserProfile.objects.filter(user=user).exists()
    assert "manager, rep1, rep2 (password: aftersales-demo)" in seeded


def test_customers_speak_english_spanish_and_russian_in_matching_time_zones(seeded):
    customers = list(Customer.objects.all())
    assert len(customers) == N
    assert {c.language for c in customers} == {"en", "es", "ru"}
    zones = {"en": "America/", "es": ("Europe/Madrid", "Atlantic/Canary"), "ru": ("Europe/", "Asia/")}
    for customer in customers:
        assert customer.timezone.startswith(zones[customer.language]), customer
        assert re.fullmatch(r"[a-z0-9.]+@[a-z0-9.-]+\.[a-z]+", customer.email), customer.email
    russian = next(c for c in customers if c.language == "ru")
    assert re.search("[а-яА-Я]", russian.name), russian.name
    reps = User.objects.filter(username__in=["rep1", "rep2"])
    assert set(Customer.objects.values_list("owner__username", flat=True)) == {"rep1", "rep2"}
    assert all(Customer.objects.filter(owner=rep).exists() for rep in reps)


def test_products_have_written_check_up_plans_and_purchases_span_18_months(seeded):
    today = timezone.now().date()
    assert Purchase.objects.values("customer").distinct().count() == N
    dates = Purchase.objects.values_list("ordered_at", flat=True)
    assert min(dates) >= today - timedelta(days=550)
    assert max(dates) - min(dates) > timedelta(days=300)
    assert not Purchase.objects.filter(delivered_at__lt=F("ordered_at")).exists()
    subscription = CheckupPlan.objects.get(name="Software onboarding (annual subscription)")
    assert subscription.renewal_offsets_days == [60, 14]
    steps = list(subscription.steps.all())
    assert [s.offset_days for s in steps] == [3, 14, 45, 90]
    assert any(s.survey_follows for s in steps) and all(len(s.objective) > 30 for s in steps)
    for purchase in Purchase.objects.select_related("product"):
        assert purchase.product.default_plan_id is not None


def test_touch_points_in_every_state(seeded):
    now = timezone.now()
    points = TouchPoint.objects.all()
    assert set(points.values_list("status", flat=True)) == {"scheduled", "done", "missed", "cancelled"}
    assert points.filter(status="scheduled", due_at__gt=now).exists()
    assert points.overdue().exists()
    assert points.filter(status="done", temperature__isnull=False).exclude(notes="").exists()
    assert not points.filter(status="done", completed_at__isnull=True).exists()
    assert not points.filter(status="done", completed_at__gt=now).exists()
    assert not points.filter(status="cancelled", cancel_reason="").exists()
    assert not points.exclude(status="done").filter(Q(temperature__isnull=False) | ~Q(outcome="")).exists()
    # One touch point per plan step and purchase, for the purchase's own customer.
    assert not points.filter(purchase__isnull=False).exclude(customer=F("purchase__customer")).exists()
    per_step = points.filter(plan_step__isnull=False).values("purchase", "plan_step").annotate(n=Count("id"))
    assert not per_step.filter(n__gt=1).exists()


def test_each_demo_rep_has_check_ups_due_today(seeded):
    for username in ("rep1", "rep2"):
        rep = User.objects.get(username=username)
        for tz in (zoneinfo.ZoneInfo(rep.profile.timezone), timezone.get_default_timezone()):
            start = timezone.now().astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
            due_today = TouchPoint.objects.scheduled().filter(
                assignee=rep, due_at__gte=start, due_at__lt=start + timedelta(days=1)
            )
            assert due_today.count() >= 3, (username, tz)


def test_survey_answers_have_a_believable_nps_spread(db):
    seed(customers=150)
    responses = SurveyResponse.objects.all()
    total = responses.count()
    assert total > 150 * 3
    assert not responses.exclude(nps__range=(0, 10)).exists()
    assert not responses.filter(csat__isnull=False).exclude(csat__range=(1, 5)).exists()
    promoters, detractors = responses.promoters().count() / total, responses.detractors().count() / total
    assert 0.4 < promoters < 0.6 and 0.12 < detractors < 0.3
    assert not responses.exclude(customer=F("invitation__customer")).exists()
    assert not responses.filter(invitation__responded_at__isnull=True).exists()
    hashes = list(SurveyInvitation.objects.values_list("token_hash", flat=True))
    assert len(set(hashes)) == len(hashes) and all(re.fullmatch("[0-9a-f]{64}", h) for h in hashes)
    assert SurveyInvitation.objects.filter(responded_at__isnull=True, sent_at__isnull=False).exists()


def test_quiet_customers_are_flagged_and_contact_dates_match_the_history(seeded):
    now = timezone.now()
    quiet = Customer.objects.quiet()
    assert quiet.exists()
    for customer in quiet:
        assert customer.flags.open().filter(reason="gone_quiet").exists()
        assert customer.last_contact_at < now - timedelta(days=45)
    assert RiskFlag.objects.open().filter(reason="gone_quiet").count() == quiet.count()
    for customer in Customer.objects.all():
        assert customer.quiet_after == customer.quiet_after_from(customer.last_contact_at)
        two_way = customer.touchpoints.filter(status="done", outcome__in=["reached", "inbound"])
        assert not two_way.filter(completed_at__gt=customer.last_contact_at).exists()
        assert not customer.survey_responses.filter(submitted_at__gt=customer.last_contact_at).exists()
    per_reason = RiskFlag.objects.open().values("customer", "reason").annotate(n=Count("id"))
    assert not per_reason.filter(n__gt=1).exists()
    assert RiskFlag.objects.filter(resolved_at__isnull=False).exists()


def test_health_scores_are_explained(seeded):
    for customer in Customer.objects.all():
        assert 0 <= customer.health_score <= 100
        moves = customer.health_explanation
        assert customer.health_score == max(0, min(100, 80 + sum(m["points"] for m in moves)))
        assert all(isinstance(m["reason"], str) and m["reason"] for m in moves)
    assert {c.health_band for c in Customer.objects.all()} >= {"red", "green"}


def test_running_again_adds_customers_but_never_duplicates_users(seeded):
    seed()
    assert Customer.objects.count() == 2 * N
    assert User.objects.filter(username__in=["manager", "rep1", "rep2"]).count() == 3
    assert UserProfile.objects.count() == 3


def test_if_empty_does_nothing_once_customers_exist(seeded):
    before = [model.objects.count() for model in (Customer, Purchase, TouchPoint, SurveyResponse, RiskFlag)]
    out = seed(if_empty=True)
    assert [model.objects.count() for model in (Customer, Purchase, TouchPoint, SurveyResponse, RiskFlag)] == before
    assert "nothing to do" in out


def test_reset_replaces_the_demo_customers(seeded):
    first = set(Customer.objects.values_list("pk", flat=True))
    seed(reset=True)
    assert Customer.objects.count() == N
    assert not Customer.objects.filter(pk__in=first).exists()


def test_the_same_seed_gives_the_same_customers(db):
    with time_machine.travel(datetime(2026, 3, 4, 10, 0, tzinfo=zoneinfo.ZoneInfo("UTC")), tick=False):
        seed(customers=10, seed=7)
        first = list(Customer.objects.order_by("pk").values_list("name", "company", "language", "health_score"))
        seed(customers=10, seed=7, reset=True)
        again = list(Customer.objects.order_by("pk").values_list("name", "company", "language", "health_score"))
        seed(customers=10, seed=8, reset=True)
        other = list(Customer.objects.order_by("pk").values_list("name", "company", "language", "health_score"))
    assert first == again
    assert first != other


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the writer thread is used on PostgreSQL only")
def test_chunks_written_by_the_background_writer_reference_existing_rows(monkeypatch):
    """Outside a transaction, chunks go through COPY in a writer thread (where foreign-key checks may be skipped)."""
    threads = set()
    write_chunk = pipeline.write_chunk

    def spy(batches):
        threads.add(threading.current_thread().name)
        write_chunk(batches)

    monkeypatch.setattr(pipeline, "write_chunk", spy)
    seed(customers=25, chunk_size=10)
    assert threads == {"seed_demo-writer"}
    assert Customer.objects.count() == 25
    orphans = {
        "purchase": Purchase.objects.exclude(customer__in=Customer.objects.all()),
        "touch point": TouchPoint.objects.exclude(customer__in=Customer.objects.all()),
        "follow-up": TouchPoint.objects.filter(follows__isnull=False).exclude(follows__in=TouchPoint.objects.all()),
        "invitation": SurveyInvitation.objects.filter(touchpoint__isnull=False).exclude(
            touchpoint__in=TouchPoint.objects.all()
        ),
        "response": SurveyResponse.objects.exclude(invitation__in=SurveyInvitation.objects.all()),
    }
    assert {name: qs.count() for name, qs in orphans.items()} == dict.fromkeys(orphans, 0)
    Customer.objects.all().delete()  # the cascade finds every row it must
    assert TouchPoint.objects.count() == 0 and SurveyResponse.objects.count() == 0


@pytest.mark.skipif(not hasattr(SurveyResponse, "followup"), reason="schema without the close-the-loop columns")
def test_low_answers_are_called_back(seeded):
    """Every detractor or low CSAT answer has its "close the loop" call, and closed loops have a close time."""
    low = SurveyResponse.objects.filter(Q(nps__lte=6) | Q(csat__lte=2))
    assert low.exists()
    assert not low.filter(followup__isnull=True).exists()
    assert not low.exclude(followup__kind="close_loop").exists()
    assert not low.exclude(followup__customer=F("customer")).exists()
    closed = low.filter(followup__status="done")
    assert closed.exists()
    assert not closed.filter(Q(loop_closed_at__isnull=True) | Q(loop_closed_at__lt=F("loop_opened_at"))).exists()
    assert not SurveyResponse.objects.filter(
        nps__gte=7, csat__gte=3, problem_reported=False, followup__isnull=False
    ).exists()
