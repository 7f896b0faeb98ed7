"""The public survey page: token lifecycle, GET never records, POST records and amends, languages, limits."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import time_machine
from django.db import close_old_connections, connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from aftersales.mail.models import OutboxEmail
from feedback.models import SurveyInvitation, SurveyResponse, hash_token, new_token
from feedback.services.loops import survey_loops_open
from tests.factories import CustomerFactory, SurveyFactory, SurveyInvitationFactory
from touchpoints.models import Kind, TouchPoint


def invite(*, customer=None, language: str = "en", **fields) -> tuple[SurveyInvitation, str]:
    """An invitation with a known clear token (the mail would carry it)."""
    token = new_token()
    customer = customer or CustomerFactory(language=language)
    invitation = SurveyInvitationFactory(
        customer=customer, language=language, token_hash=hash_token(token), sent_at=timezone.now(), **fields
    )
    return invitation, token


def survey_url(token: str) -> str:
    return reverse("feedback:survey", args=[token])


ANSWER = {"nps": "8", "csat": "4", "would_buy_again": "yes", "comment": "Fine"}


# --- Tokens --------------------------------------------------------------------------------


def test_only_the_hash_of_the_token_is_stored(db):
    invitation, token = invite()

    stored = SurveyInvitation.objects.filter(pk=invitation.pk).values().get()

    assert len(token) >= 32  # 192 random bits, url-safe base64
    assert token not in str(stored)
    assert stored["token_hash"] == hash_token(token)


def test_a_get_shows_the_form_and_records_nothing(client, db):
    invitation, token = invite()

    response = client.get(survey_url(token), {"score": "3"})

    assert response.status_code == 200
    assert 'value="3" checked' in response.content.decode()
    assert SurveyResponse.objects.count() == 0
    invitation.refresh_from_db()
    assert invitation.responded_at is None
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    assert response["Referrer-Policy"] == "same-origin"  # the token never goes to another site


def test_the_first_get_marks_the_invitation_opened_once(client, db):
    invitation, token = invite()
    with time_machine.travel(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC), tick=False):
        client.get(survey_url(token))
    with time_machine.travel(dt.datetime(2026, 3, 3, 9, 0, tzinfo=dt.UTC), tick=False):
        client.get(survey_url(token))

    invitation.refresh_from_db()
    assert invitation.opened_at == dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def test_a_head_request_from_a_link_checker_does_not_count_as_opened(client, db):
    invitation, token = invite()

    assert client.head(survey_url(token)).status_code == 200

    invitation.refresh_from_db()
    assert invitation.opened_at is None


def test_a_post_records_the_answer_and_shows_the_thank_you_page(client, db):
    invitation, token = invite()

    response = client.post(survey_url(token), ANSWER, follow=True)

    answer = SurveyResponse.objects.get()
    assert (answer.invitation, answer.customer) == (invitation, invitation.customer)
    assert (answer.nps, answer.csat, answer.would_buy_again, answer.comment) == (8, 4, "yes", "Fine")
    invitation.refresh_from_db()
    assert invitation.responded_at is not None
    assert response.redirect_chain[-1][0] == reverse("feedback:thanks", args=[token])
    assert "Thank you for your answer" in response.content.decode()


def test_an_answer_can_be_amended_but_never_duplicated(client, db):
    invitation, token = invite()
    client.post(survey_url(token), ANSWER)
    first = SurveyResponse.objects.get()

    page = client.get(survey_url(token))
    client.post(survey_url(token), {**ANSWER, "nps": "10", "comment": "Even better"})

    assert "You have already answered" in page.content.decode()
    assert 'value="8" checked' in page.content.decode()
    amended = SurveyResponse.objects.get()
    assert amended.pk == first.pk
    assert (amended.nps, amended.comment) == (10, "Even better")
    assert amended.submitted_at == first.submitted_at


def test_an_answer_costs_a_fixed_handful_of_queries(client, db, django_assert_num_queries):
    """The answer POST has a throughput target (docs/BENCHMARKS.md): what it costs is counted here.

    A first answer: the locking read, the answer's INSERT, the invitation's
    and the customer's UPDATEs (and the savepoint pair of the test's transaction).
    A low one costs the same: its loop is left pending for the worker.
    """
    _, token = invite()
    _, low_token = invite()

    with django_assert_num_queries(6):
        client.post(survey_url(token), ANSWER)
    with django_assert_num_queries(6):  # amending reads the answer instead of inserting one
        client.post(survey_url(token), {**ANSWER, "nps": "9"})
    with django_assert_num_queries(6):
        client.post(survey_url(low_token), {**ANSWER, "nps": "2", "csat": "1"})

    assert SurveyResponse.objects.count() == 2
    assert SurveyResponse.objects.get(invitation__token_hash=hash_token(low_token)).loop_pending == "detractor,low_csat"
    assert not TouchPoint.objects.filter(kind=Kind.CLOSE_LOOP).exists()


def test_the_loop_job_costs_the_same_for_one_answer_or_many(client, db):
    """Set-based: a batch of low answers costs as many statements as one (the worker's side of the target)."""

    def job_statements(answers: int) -> int:
        for _ in range(answers):
            client.post(survey_url(invite()[1]), {**ANSWER, "nps": "2", "csat": "1"})
        with CaptureQueriesContext(connection) as queries:
            assert survey_loops_open() == answers
        return len(queries)

    one, five = job_statements(1), job_statements(5)

    assert (
        one == five == 16
    )  # 14 to open the loops; 2 to move unanswered call-backs to their next try and close the logged ones
    assert TouchPoint.objects.filter(kind=Kind.CLOSE_LOOP).count() == 6
    assert OutboxEmail.objects.filter(kind=OutboxEmail.Kind.NOTIFICATION).count() == 6


def test_the_score_is_required_and_out_of_range_values_are_refused(client, db):
    _, token = invite()

    missing = client.post(survey_url(token), {"csat": "4"})
    too_high = client.post(survey_url(token), {"nps": "11"})

    assert missing.status_code == too_high.status_code == 200
    assert "Please choose a score from 0 to 10." in missing.content.decode()
    assert SurveyResponse.objects.count() == 0


@pytest.mark.parametrize("kind", ["unknown", "tampered", "expired", "empty-looking"])
def test_bad_tokens_get_the_same_friendly_page(client, db, kind):
    invitation, token = invite()
    if kind == "unknown":
        token = new_token()
    elif kind == "tampered":
        token = token[:-1] + ("A" if token[-1] != "A" else "B")
    elif kind == "expired":
        SurveyInvitation.objects.filter(pk=invitation.pk).update(
            send_at=timezone.now() - dt.timedelta(days=30), expires_at=timezone.now() - dt.timedelta(days=1)
        )
    else:
        token = "x" * 300

    page = client.get(survey_url(token))
    post = client.post(survey_url(token), ANSWER)

    for response in (page, post):
        assert response.status_code == 404
        assert "This survey link does not work" in response.content.decode()
        assert invitation.customer.name not in response.content.decode()
    assert SurveyResponse.objects.count() == 0


def test_an_invitation_expires_after_its_date(client, db):
    with time_machine.travel(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC), tick=False):
        _, token = invite()
    with time_machine.travel(dt.datetime(2026, 3, 30, 8, 59, tzinfo=dt.UTC), tick=False):
        assert client.get(survey_url(token)).status_code == 200
    with time_machine.travel(dt.datetime(2026, 3, 30, 9, 0, tzinfo=dt.UTC), tick=False):
        assert client.get(survey_url(token)).status_code == 404
        assert client.post(survey_url(token), ANSWER).status_code == 404
    assert SurveyResponse.objects.count() == 0


def test_the_thank_you_page_before_any_answer_leads_back_to_the_questions(client, db):
    _, token = invite()

    response = client.get(reverse("feedback:thanks", args=[token]))

    assert response.status_code == 302
    assert response["Location"] == survey_url(token)


def test_questions_the_survey_does_not_ask_are_not_shown(client, db):
    survey = SurveyFactory(asks_csat=False, asks_buy_again=False)
    _, token = invite(survey=survey)

    content = client.get(survey_url(token)).content.decode()

    assert 'name="nps"' in content
    assert 'name="csat"' not in content and 'name="would_buy_again"' not in content


# --- Languages and escaping -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "question", "button", "thanks"),
    [
        ("es", "¿Qué podríamos hacer mejor?", "Enviar mi respuesta", "Gracias por su respuesta"),
        ("ru", "Что мы могли бы сделать лучше?", "Отправить ответ", "Спасибо за ваш ответ"),
    ],
)
def test_the_page_speaks_the_invitations_language_whatever_the_browser_says(
    client, db, language, question, button, thanks
):
    _, token = invite(language=language)

    page = client.get(survey_url(token), headers={"accept-language": "en"})
    done = client.post(survey_url(token), ANSWER, follow=True, headers={"accept-language": "en"})

    content = page.content.decode()
    assert f'<html lang="{language}">' in content
    assert question in content and button in content
    assert page["Content-Language"] == language
    assert thanks in done.content.decode()


def test_customer_text_is_escaped_on_the_page(client, db):
    customer = CustomerFactory(name="<script>alert(1)</script>\r\nBcc: x@evil.example")
    _, token = invite(customer=customer)

    client.post(survey_url(token), {**ANSWER, "comment": "<img src=x onerror=alert(2)>"})
    page = client.get(survey_url(token)).content.decode()

    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(2)&gt;" in page


# --- Rate limit ---------------------------------------------------------------------------------


def test_too_many_requests_from_one_address_get_a_429_page_in_the_customers_language(client, db, settings):
    settings.AFTERSALES = {**settings.AFTERSALES, "PUBLIC_RATE_LIMIT_PER_MINUTE": 3}
    _, token = invite(language="ru")

    statuses = [client.get(survey_url(token)).status_code for _ in range(4)]
    limited = client.post(survey_url(token), ANSWER)
    other = client.get(survey_url(new_token()), REMOTE_ADDR="10.0.0.9", headers={"accept-language": "es"})

    assert statuses == [200, 200, 200, 429]
    assert limited.status_code == 429
    assert limited["Retry-After"] == "60"
    assert "Слишком много запросов" in limited.content.decode()
    assert SurveyResponse.objects.count() == 0
    assert other.status_code == 404  # another address has its own count


def test_the_429_page_falls_back_to_the_browsers_language(client, db, settings):
    settings.AFTERSALES = {**settings.AFTERSALES, "PUBLIC_RATE_LIMIT_PER_MINUTE": 1}
    url = survey_url(new_token())

    client.get(url, headers={"accept-language": "es"})
    response = client.get(url, headers={"accept-language": "es"})

    assert response.status_code == 429
    assert "Demasiadas solicitudes" in response.content.decode()


def test_the_limit_counts_per_minute(client, db, settings):
    settings.AFTERSALES = {**settings.AFTERSALES, "PUBLIC_RATE_LIMIT_PER_MINUTE": 1}
    _, token = invite()
    with time_machine.travel(dt.datetime(2026, 3, 2, 9, 0, 10, tzinfo=dt.UTC), tick=False):
        SurveyInvitation.objects.update(send_at=timezone.now(), expires_at=timezone.now() + dt.timedelta(days=28))
        assert client.get(survey_url(token)).status_code == 200
        assert client.get(survey_url(token)).status_code == 429
    with time_machine.travel(dt.datetime(2026, 3, 2, 9, 1, 10, tzinfo=dt.UTC), tick=False):
        assert client.get(survey_url(token)).status_code == 200


def test_a_minutes_count_on_redis_expires_and_is_not_reset_by_later_requests(client, db):
    """On Redis the window's first request sets its key's expiry; later ones only count."""
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    from aftersales.core.http import _redis_client

    cache = caches["default"]
    if not isinstance(cache, RedisCache):
        pytest.skip("needs Redis (CACHE_URL): other caches keep their own expiry")
    _, token = invite()
    client.get(survey_url(token))
    redis = _redis_client(cache._cache._get_connection_pool(write=True))
    [key] = redis.keys(cache.make_key("rl:public:*"))
    redis.expire(key, 30)  # as if half the window had passed

    client.get(survey_url(token))

    assert redis.get(key) == b"2"
    assert 0 < redis.ttl(key) <= 30


# --- Concurrency (real database) ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_posts_on_one_token_leave_one_answer(settings):
    """Threads with their own connections race on one invitation: one row, never a duplicate or a 500."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serialises writers and has no row locks to race on")
    settings.AFTERSALES = {**settings.AFTERSALES, "PUBLIC_RATE_LIMIT_PER_MINUTE": 1000}
    invitation, token = invite()
    barrier = threading.Barrier(20)
    statuses: list[int] = []

    def answer(score: int) -> None:
        from django.test import Client

        try:
            barrier.wait()
            statuses.append(Client().post(survey_url(token), {**ANSWER, "nps": str(score % 7)}).status_code)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=answer, args=(score,)) for score in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [302] * 20
    assert SurveyResponse.objects.filter(invitation=invitation).count() == 1
    assert SurveyResponse.objects.count() == 1
    # Every racing answer was a detractor: the loop opens once, on the answer left standing.
    assert survey_loops_open() == 1
    [followup] = TouchPoint.objects.filter(kind=Kind.CLOSE_LOOP)
    assert f"NPS {SurveyResponse.objects.get().nps}" in followup.objective
    assert OutboxEmail.objects.filter(kind=OutboxEmail.Kind.NOTIFICATION).count() == 1
