"""Closing the loop: a low answer becomes a flag, a call-back due within one business day, and a mail to the owner.

The answer leaves its loop pending; the worker's job (feedback/services/loops.py) opens it
a few seconds later. Here the job runs in the test's process (``worker_runs``);
tests/proofs/test_celery_worker.py has a real worker pick it up from the broker."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from aftersales.mail.models import OutboxEmail
from customers.models import FlagReason, RiskFlag
from feedback.models import SurveyResponse, hash_token, new_token
from feedback.services.answers import Answer, survey_response_record
from feedback.services.loops import survey_loops_open
from tests.factories import CustomerFactory, SurveyInvitationFactory
from touchpoints.models import Kind, Outcome, Status, TouchPoint
from touchpoints.services import touchpoint_complete

# Friday 6 March 2026, 15:00 in Madrid: the next business day is Monday the 9th.
FRIDAY = dt.datetime(2026, 3, 6, 14, 0, tzinfo=dt.UTC)


@pytest.fixture
def customer(alice):
    return CustomerFactory(owner=alice, name="Carmen Ruiz", timezone="Europe/Madrid", language="es")


def invite(customer):
    token = new_token()
    with time_machine.travel(FRIDAY - dt.timedelta(days=1), tick=False):
        invitation = SurveyInvitationFactory(customer=customer, token_hash=hash_token(token), language="es")
    return invitation, token


def worker_runs(seconds: int = 5) -> int:
    """The loop-opening job, as the worker runs it a few seconds after the answer."""
    with time_machine.travel(FRIDAY + dt.timedelta(seconds=seconds), tick=False):
        return survey_loops_open()


def close_loops() -> list[TouchPoint]:
    return list(TouchPoint.objects.filter(kind=Kind.CLOSE_LOOP))


def alerts() -> list[OutboxEmail]:
    return list(OutboxEmail.objects.filter(kind=OutboxEmail.Kind.NOTIFICATION).order_by("pk"))


def test_a_detractor_opens_a_call_back_raises_a_flag_and_mails_the_owner(client, alice, customer):
    _, token = invite(customer)

    with time_machine.travel(FRIDAY, tick=False):
        client.post(
            reverse("feedback:survey", args=[token]),
            {"nps": "3", "csat": "3", "comment": "Delivery was late\nand nobody called"},
        )
    assert close_loops() == [] and alerts() == []  # pending: the worker opens it
    assert SurveyResponse.objects.get().loop_pending == FlagReason.DETRACTOR

    assert worker_runs() == 1
    [followup] = close_loops()
    assert followup.assignee == alice and followup.customer == customer
    assert followup.status == Status.SCHEDULED
    assert followup.due_at == dt.datetime(2026, 3, 9, 9, 0, tzinfo=dt.UTC)  # Monday 10:00 in Madrid
    assert "NPS 3" in followup.objective and "Delivery was late and nobody called" in followup.objective
    flag = RiskFlag.objects.open().get(customer=customer)
    assert flag.reason == FlagReason.DETRACTOR
    assert "NPS 3" in flag.detail
    [mail] = alerts()
    assert mail.to == alice.email
    assert "Carmen Ruiz" in mail.subject and "NPS 3" in mail.subject
    assert "> Delivery was late\n> and nobody called" in mail.body_text
    assert "Delivery was late\nand nobody called</blockquote>" in mail.body_html
    answer = SurveyResponse.objects.get()
    assert answer.followup == followup and answer.loop_opened_at == FRIDAY  # the answer's time, not the job's
    assert answer.loop_pending == "" and answer.loop_pending_at is None
    assert worker_runs(10) == 0  # nothing left: a second run opens nothing twice
    assert len(close_loops()) == 1 and len(alerts()) == 1


def test_the_thank_you_page_says_the_rep_will_call(client, customer):
    _, token = invite(customer)

    with time_machine.travel(FRIDAY, tick=False):
        response = client.post(reverse("feedback:survey", args=[token]), {"nps": "2"}, follow=True)

    content = response.content.decode()
    assert "Alice Archer ya está informado y se pondrá en contacto con usted en un día hábil" in content


def test_a_low_csat_or_a_reported_problem_also_closes_the_loop(customer):
    invitation, _ = invite(customer)

    with time_machine.travel(FRIDAY, tick=False):
        survey_response_record(invitation=invitation, answer=Answer(nps=8, csat=2, problem_reported=True))
    worker_runs()

    assert len(close_loops()) == 1
    reasons = set(RiskFlag.objects.open().filter(customer=customer).values_list("reason", flat=True))
    assert reasons == {FlagReason.LOW_CSAT, FlagReason.PROBLEM_REPORTED}
    assert len(alerts()) == 1


def test_passives_and_promoters_close_no_loop(customer):
    invitation, _ = invite(customer)

    with time_machine.travel(FRIDAY, tick=False):
        survey_response_record(invitation=invitation, answer=Answer(nps=7, csat=3))
    assert worker_runs() == 0

    assert close_loops() == []
    assert not RiskFlag.objects.exists()
    assert alerts() == []


def test_amending_a_detractor_answer_opens_no_second_call_back(customer):
    invitation, _ = invite(customer)
    with time_machine.travel(FRIDAY, tick=False):
        survey_response_record(invitation=invitation, answer=Answer(nps=3))
    worker_runs()
    with time_machine.travel(FRIDAY + dt.timedelta(minutes=5), tick=False):
        survey_response_record(invitation=invitation, answer=Answer(nps=1, comment="Worse than I said"))
    worker_runs(600)

    assert len(close_loops()) == 1
    assert RiskFlag.objects.open().filter(customer=customer).count() == 1
    assert len(alerts()) == 1  # nothing new to tell the owner: still a detractor


def test_amendments_before_the_worker_runs_are_acted_on_as_the_customer_left_them(customer):
    first, second = invite(customer)[0], invite(customer)[0]
    with time_machine.travel(FRIDAY, tick=False):
        # A slip corrected at once: nothing to call back about.
        survey_response_record(invitation=first, answer=Answer(nps=3))
        survey_response_record(invitation=first, answer=Answer(nps=9))
        # Worse on second thoughts: one call, one alert, with the final answer.
        survey_response_record(invitation=second, answer=Answer(nps=6))
        survey_response_record(invitation=second, answer=Answer(nps=2, comment="Still broken"))
    assert worker_runs() == 1

    [followup] = close_loops()
    assert "NPS 2" in followup.objective and "Still broken" in followup.objective
    [mail] = alerts()
    assert "NPS 2" in mail.subject
    [flag] = RiskFlag.objects.open().filter(customer=customer)
    assert flag.reason == FlagReason.DETRACTOR and "NPS 2" in flag.detail


def test_an_amendment_that_adds_a_reason_tells_the_owner_again_but_keeps_one_call_back(customer):
    invitation, _ = invite(customer)
    with time_machine.travel(FRIDAY, tick=False):
        survey_response_record(invitation=invitation, answer=Answer(nps=9))
        survey_response_record(invitation=invitation, answer=Answer(nps=4))
    worker_runs()
    with time_machine.travel(FRIDAY + dt.timedelta(minutes=5), tick=False):
        survey_response_record(invitation=invitation, answer=Answer(nps=4, problem_reported=True))
    worker_runs(600)

    assert len(close_loops()) == 1
    assert len(alerts()) == 2
    reasons = set(RiskFlag.objects.open().values_list("reason", flat=True))
    assert reasons == {FlagReason.DETRACTOR, FlagReason.PROBLEM_REPORTED}


def test_completing_the_call_back_records_the_time_to_close_the_loop(alice, customer):
    invitation, _ = invite(customer)
    with time_machine.travel(FRIDAY, tick=False):
        answer = survey_response_record(invitation=invitation, answer=Answer(nps=3))
    worker_runs()
    [followup] = close_loops()

    with time_machine.travel(FRIDAY + dt.timedelta(hours=70), tick=False):
        touchpoint_complete(touchpoint=followup, by=alice, outcome=Outcome.REACHED, temperature=3)
    worker_runs(seconds=70 * 3600 + 30)  # the loop job's next run sees the call logged

    answer.refresh_from_db()
    assert answer.loop_closed_at - answer.loop_opened_at == dt.timedelta(hours=70)


def test_a_call_back_nobody_answered_keeps_the_loop_open_until_its_next_try_reaches_them(alice, customer):
    """The no-answer call schedules the next try; the loop follows it and closes when that one reaches them."""
    invitation, _ = invite(customer)
    with time_machine.travel(FRIDAY, tick=False):
        answer = survey_response_record(invitation=invitation, answer=Answer(nps=3))
    worker_runs()
    [first] = close_loops()

    with time_machine.travel(FRIDAY + dt.timedelta(hours=70), tick=False):
        touchpoint_complete(touchpoint=first, by=alice, outcome=Outcome.NO_ANSWER)
    worker_runs(seconds=70 * 3600 + 30)
    answer.refresh_from_db()
    [retry] = TouchPoint.objects.filter(kind=Kind.CLOSE_LOOP, status=Status.SCHEDULED)
    assert retry.follows == first and answer.followup == retry
    assert answer.loop_closed_at is None, "nobody was reached: the loop is still open"

    with time_machine.travel(FRIDAY + dt.timedelta(hours=90), tick=False):
        touchpoint_complete(touchpoint=retry, by=alice, outcome=Outcome.REACHED, temperature=3)
    worker_runs(seconds=90 * 3600 + 30)
    answer.refresh_from_db()
    assert answer.loop_closed_at - answer.loop_opened_at == dt.timedelta(hours=90)


def test_the_call_back_is_on_the_owners_my_day(alice_client, customer):
    invitation, _ = invite(customer)
    with time_machine.travel(FRIDAY, tick=False):
        survey_response_record(invitation=invitation, answer=Answer(nps=0, comment="Terrible"))
    worker_runs()

    with time_machine.travel(dt.datetime(2026, 3, 9, 8, 0, tzinfo=dt.UTC), tick=False):
        page = alice_client.get(reverse("my_day")).content.decode()

    assert "Close the loop: Call back about the survey answer (NPS 0)" in page


def test_customer_text_is_escaped_in_the_owners_mail(customer):
    customer.name = "<script>x</script>\r\nBcc: evil@example.com"
    customer.save()
    invitation, _ = invite(customer)

    with time_machine.travel(FRIDAY, tick=False):
        survey_response_record(invitation=invitation, answer=Answer(nps=1, comment="<b>bold</b> & <i>co</i>"))
    worker_runs()

    [mail] = alerts()
    assert "\r" not in mail.subject and "\n" not in mail.subject
    assert "<script>" not in mail.body_html and "&lt;script&gt;x&lt;/script&gt;" in mail.body_html
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;i&gt;co&lt;/i&gt;" in mail.body_html
    assert "<b>bold</b> & <i>co</i>" in mail.body_text  # plain text is not HTML: quoted as written


def test_promoters_are_invited_to_review_only_when_configured(client, customer, settings):
    _, token = invite(customer)
    with time_machine.travel(FRIDAY, tick=False):
        client.post(reverse("feedback:survey", args=[token]), {"nps": "10"})
        thanks = reverse("feedback:thanks", args=[token])
        without = client.get(thanks).content.decode()
        settings.AFTERSALES = {**settings.AFTERSALES, "REVIEW_URL": "https://reviews.example.com/acme"}
        with_link = client.get(thanks).content.decode()

    assert "reviews.example.com" not in without
    assert 'href="https://reviews.example.com/acme"' in with_link
    assert "Dejar una reseña" in with_link


def test_a_detractor_answer_is_a_webhook_event(customer):
    from aftersales.webhooks.models import Webhook, WebhookDelivery

    Webhook.objects.create(url="https://hooks.example.com/in", events=["survey.detractor"])
    invitation, _ = invite(customer)

    with time_machine.travel(FRIDAY, tick=False):
        answer = survey_response_record(invitation=invitation, answer=Answer(nps=2, comment="Slow"))
    worker_runs()
    with time_machine.travel(FRIDAY + dt.timedelta(minutes=5), tick=False):
        survey_response_record(invitation=invitation, answer=Answer(nps=1, comment="Slower"))  # amended: no new event
    worker_runs(600)

    [delivery] = WebhookDelivery.objects.all()
    assert delivery.event == "survey.detractor"
    assert delivery.payload["response"] == {
        "id": answer.pk,
        "nps": 2,
        "csat": None,
        "comment": "Slow",
        "submitted_at": FRIDAY.isoformat().replace("+00:00", "Z"),
    }


def test_the_team_reads_the_flag_and_the_alert_in_the_sites_language_not_the_customers(client, customer):
    token = new_token()
    with time_machine.travel(FRIDAY - dt.timedelta(days=1), tick=False):
        SurveyInvitationFactory(customer=customer, token_hash=hash_token(token), language="ru")

    with time_machine.travel(FRIDAY, tick=False):
        page = client.post(reverse("feedback:survey", args=[token]), {"nps": "2", "csat": "1"}, follow=True)

    assert "Спасибо" in page.content.decode()  # the customer's page is in Russian
    worker_runs()
    flags = RiskFlag.objects.open().filter(customer=customer).order_by("reason")
    assert [flag.reason for flag in flags] == [FlagReason.DETRACTOR, FlagReason.LOW_CSAT]
    assert all(flag.detail.startswith("Survey 6 Mar 2026: NPS 2, CSAT 1") for flag in flags)
    [mail] = alerts()
    assert mail.subject.startswith("Detractor, Low CSAT: Carmen Ruiz") and "(NPS 2, CSAT 1)" in mail.subject


@pytest.mark.django_db(transaction=True)
def test_two_runs_of_the_job_racing_on_one_customer_leave_one_flag_per_reason(alice):
    """Two workers open the loops of two answers of one customer at once: each claims one answer
    (SKIP LOCKED), both try to raise the same two flags; one open flag each, both answers in its detail."""
    import threading

    from django.db import close_old_connections, connection

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serialises writers")
    customer = CustomerFactory(owner=alice)
    for n in range(2):
        survey_response_record(
            invitation=SurveyInvitationFactory(customer=customer), answer=Answer(nps=1, csat=1, comment=f"Answer {n}")
        )
    barrier = threading.Barrier(2)
    errors: list[Exception] = []
    handled: list[int] = []

    def run() -> None:
        try:
            barrier.wait()
            handled.append(survey_loops_open(batch_size=1))
        except Exception as error:  # noqa: BLE001 — collected and asserted below
            errors.append(error)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sum(handled) == 2  # each answer handled once, by one run or the other
    flags = RiskFlag.objects.open().filter(customer=customer)
    assert sorted(flag.reason for flag in flags) == [FlagReason.DETRACTOR, FlagReason.LOW_CSAT]
    for flag in flags:
        assert "Answer 0" in flag.detail and "Answer 1" in flag.detail
    assert TouchPoint.objects.filter(kind=Kind.CLOSE_LOOP, customer=customer).count() == 2  # one per answer
    assert len(alerts()) == 2


def test_two_low_answers_of_one_customer_in_one_batch_share_the_flag_and_get_a_call_each(customer):
    with time_machine.travel(FRIDAY, tick=False):
        for comment in ("Broken", "Still broken"):
            survey_response_record(invitation=invite(customer)[0], answer=Answer(nps=2, comment=comment))
    assert worker_runs() == 2  # one batch

    [flag] = RiskFlag.objects.open().filter(customer=customer)
    assert flag.detail.splitlines() == [
        'Survey 6 Mar 2026: NPS 2: "Broken"',
        'Survey 6 Mar 2026: NPS 2: "Still broken"',
    ]
    assert len(close_loops()) == 2 and len(alerts()) == 2


def test_a_backlog_is_handed_to_a_fresh_run(customer, monkeypatch):
    """A run that has worked its time queues the next run and ends, well inside Celery's time limit."""
    from feedback.services import loops

    queued = []
    monkeypatch.setattr(loops, "RUN_SECONDS", 0)
    monkeypatch.setattr(loops, "task_send", lambda name: queued.append(name == loops.OPEN_TASK))
    with time_machine.travel(FRIDAY, tick=False):
        for _ in range(3):
            survey_response_record(invitation=invite(customer)[0], answer=Answer(nps=2))

    assert survey_loops_open(batch_size=1) == 1
    assert queued == [True]
    assert SurveyResponse.objects.filter(loop_pending_at__isnull=False).count() == 2


def test_the_job_runs_from_beat_its_task_and_its_command(customer, capsys):
    from django.core.management import call_command

    from aftersales.celery import app
    from feedback.tasks import survey_loops_open_task

    with time_machine.travel(FRIDAY, tick=False):
        survey_response_record(invitation=invite(customer)[0], answer=Answer(nps=2))
        survey_response_record(invitation=invite(customer)[0], answer=Answer(nps=3))
        call_command("survey_loops_open", "--batch-size", "1")
        assert survey_loops_open_task() == 0  # nothing left

    assert capsys.readouterr().out.splitlines() == ["Opened the loop on 2 answer(s)."]
    assert len(close_loops()) == 2
    assert "feedback.tasks.survey_loops_open_task" in {entry["task"] for entry in app.conf.beat_schedule.values()}
