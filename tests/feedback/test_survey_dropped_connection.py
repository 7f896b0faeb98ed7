"""The survey answer survives a dropped database connection: retried once, never a duplicate, never a bare 500.

Real PostgreSQL connections, really terminated (``pg_terminate_backend`` from
a second connection, as an administrator, a failover or a proxy would), at a
chosen point: before the request, between two statements of the answer's
transaction, right after its commit, or on every try.
"""

from __future__ import annotations

from contextlib import closing

import psycopg2
import pytest
from django.db import OperationalError, connection, transaction
from django.urls import reverse

from feedback.models import SurveyResponse
from feedback.services.loops import survey_loops_open
from tests.feedback.test_survey_page import ANSWER, invite, survey_url
from touchpoints.models import Kind, TouchPoint

pytestmark = pytest.mark.django_db(transaction=True)  # real commits, seen from other connections

LOCKING_READ = "FOR UPDATE OF i"  # feedback.services.answers.answer_target: the transaction's first statement
LOW = {**ANSWER, "nps": "3", "csat": "2", "comment": "It broke twice"}


@pytest.fixture(autouse=True)
def _postgresql(transactional_db):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: terminates a real server connection")
    yield
    connection.close()  # a test that failed may leave it broken: the database flush reconnects


def terminate(conn) -> None:
    """Terminate ``conn``'s server process from another connection and wait until it is gone."""
    pid = conn.connection.info.backend_pid
    with closing(psycopg2.connect(**conn.get_connection_params())) as admin:
        admin.autocommit = True
        with admin.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])
            assert cursor.fetchone() == (True,)


class Killer:
    """A query hook (``connection.execute_wrapper``): terminates the connection just before
    the first ``times`` statements containing ``before``, and counts the statements."""

    def __init__(self, before: str = "", times: int = 1) -> None:
        self.before, self.times, self.kills, self.statements = before, times, 0, 0

    def __call__(self, execute, sql, params, many, context):
        self.statements += 1
        if self.kills < self.times and self.before in sql:
            self.kills += 1
            terminate(context["connection"])
        return execute(sql, params, many, context)


def test_a_connection_dropped_while_idle_costs_the_customer_nothing(client):
    """Killed between two requests: the answer's first statement fails, the retry stores it."""
    invitation, token = invite()
    client.get(survey_url(token))  # the connection is open and idle
    terminate(connection)

    response = client.post(survey_url(token), ANSWER)

    assert response.status_code == 302
    assert response["Location"] == reverse("feedback:thanks", args=[token])
    answer = SurveyResponse.objects.get()
    assert (answer.invitation, answer.nps, answer.comment) == (invitation, 8, "Fine")


def test_a_connection_dropped_inside_the_transaction_is_retried_whole(client):
    """Killed after the locking read, before the INSERT: the server rolled back; the retry writes it all."""
    invitation, token = invite()
    killer = Killer(before="INSERT INTO feedback_surveyresponse")

    with connection.execute_wrapper(killer):
        response = client.post(survey_url(token), LOW, follow=True)

    assert killer.kills == 1
    assert response.redirect_chain == [(reverse("feedback:thanks", args=[token]), 302)]
    assert "Thank you for your answer" in response.content.decode()
    answer = SurveyResponse.objects.get()
    assert (answer.nps, answer.csat, answer.comment) == (3, 2, "It broke twice")
    assert answer.loop_pending == "detractor,low_csat"
    invitation.refresh_from_db()
    assert invitation.responded_at == answer.submitted_at
    assert invitation.customer.last_contact_at == answer.submitted_at


def test_a_commit_whose_acknowledgement_is_lost_is_not_answered_twice(client):
    """The commit happened, then the connection died before the view heard back:
    the retry amends the stored answer with the same values — one answer, one call-back."""
    invitation, token = invite()
    killed = []

    def kill_after_commit(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if "INSERT INTO feedback_surveyresponse" in sql and not killed:
            conn = context["connection"]

            def drop_and_touch() -> None:  # the connection dies as the commit returns
                killed.append(True)
                terminate(conn)
                conn.cursor().execute("SELECT 1")

            transaction.on_commit(drop_and_touch)
        return result

    with connection.execute_wrapper(kill_after_commit):
        response = client.post(survey_url(token), LOW)

    assert killed == [True]
    assert response.status_code == 302
    answer = SurveyResponse.objects.get()
    assert (answer.nps, answer.comment, answer.loop_pending) == (3, "It broke twice", "detractor,low_csat")
    assert answer.updated_at > answer.submitted_at  # stored by the first try, amended by the retry
    assert survey_loops_open() == 1
    assert survey_loops_open() == 0
    assert TouchPoint.objects.filter(kind=Kind.CLOSE_LOOP, customer=invitation.customer).count() == 1


def test_when_the_retry_fails_too_the_customer_gets_their_answer_back_with_a_503(client):
    """Both tries lose their connection: a 503 survey page in the customer's language, filled in, nothing stored."""
    _, token = invite(language="es")
    killer = Killer(before=LOCKING_READ, times=2)

    with connection.execute_wrapper(killer):
        page = client.post(survey_url(token), LOW, headers={"accept-language": "en"})

    content = page.content.decode()
    assert killer.kills == 2
    assert page.status_code == 503
    assert page["Content-Language"] == "es"
    assert "No hemos podido guardar su respuesta. Inténtelo de nuevo" in content
    assert 'value="3" checked' in content and 'value="2" checked' in content  # the scores chosen
    assert "It broke twice</textarea>" in content
    assert SurveyResponse.objects.count() == 0

    again = client.post(survey_url(token), LOW)  # the database is back: the customer sends it again

    assert again.status_code == 302
    assert SurveyResponse.objects.get().comment == "It broke twice"


def test_when_the_database_stays_out_of_reach_the_answer_is_kept_without_it(client):
    """Even the page's own read fails: a page that needs no database keeps the answer to send again."""
    _, token = invite(language="ru")
    answer = {**LOW, "problem_reported": "on", "language": "ru"}  # as the survey page posts it
    killer = Killer(times=3)  # both tries, then the read of the survey page

    with connection.execute_wrapper(killer):
        page = client.post(survey_url(token), answer, headers={"accept-language": "en"})

    content = page.content.decode()
    assert (killer.kills, killer.statements) == (3, 3)  # the page itself ran no query
    assert page.status_code == 503
    assert page["Content-Language"] == "ru"
    assert "Ваш ответ не сохранён" in content and "Отправить ответ ещё раз" in content
    for name, value in answer.items():
        assert f'<input type="hidden" name="{name}" value="{value}">' in content
    assert 'name="csrfmiddlewaretoken"' in content
    assert SurveyResponse.objects.count() == 0

    again = client.post(survey_url(token), answer)  # the button, once the database is back

    assert again.status_code == 302
    stored = SurveyResponse.objects.get()
    assert (stored.nps, stored.comment, stored.problem_reported) == (3, "It broke twice", True)


def test_other_database_errors_are_not_retried(client):
    """A lock timeout leaves the connection alive: no second try (it would wait again), the error propagates."""
    invitation, token = invite()
    killer = Killer(before="never matches")
    with closing(psycopg2.connect(**connection.get_connection_params())) as other:
        with other.cursor() as cursor:  # another transaction holds the invitation's row
            cursor.execute("SELECT 1 FROM feedback_surveyinvitation WHERE id = %s FOR UPDATE", [invitation.pk])
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '50ms'")
        try:
            with connection.execute_wrapper(killer), pytest.raises(OperationalError, match="lock timeout"):
                client.post(survey_url(token), ANSWER)
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET lock_timeout")

    assert killer.statements == 1  # the locking read, once
    assert SurveyResponse.objects.count() == 0
