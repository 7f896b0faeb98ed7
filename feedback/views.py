"""The customer's survey pages (public, token links) and the unsubscribe page.

No login: the token in the URL is the key. A GET only shows (mail scanners
and previews prefetch links): it never records an answer and never uses the
token up; it only notes, once, that the survey was opened. The answer is a
POST. Anything wrong with a token — unknown, altered, expired — gets the same
friendly page with a 404, so the page tells nobody whether a token existed.

Every page speaks the customer's language (the invitation's, or the
customer's for unsubscribe), whatever the browser says. Staff pages about
surveys are in staff_views.py.
"""

from __future__ import annotations

from django.conf import settings
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse, QueryDict
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_safe

from aftersales.core.dbretry import CONNECTION_ERRORS, connection_lost, retry_on_lost_connection
from aftersales.core.http import rate_limited
from feedback.forms import SurveyForm
from feedback.models import SurveyInvitation, SurveyResponse
from feedback.services.answers import answer_target, invitation_for_token, review_url, survey_response_store
from feedback.services.unsubscribe import customer_unsubscribe, unsubscribe_customer
from touchpoints.careplan import rep_contact

RATE_SCOPE = "public"
ANSWER_FIELDS = ("nps", "csat", "would_buy_again", "comment", "problem_reported")


def _private(response: HttpResponse, language: str | None = None) -> HttpResponse:
    """A personal page: out of search engines, and the token never leaks to another site in a Referer header.

    "same-origin", not "no-referrer": with no referrer at all, browsers send
    ``Origin: null`` on the form's POST and Django's CSRF check refuses it.
    """
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "same-origin"
    if language:
        response["Content-Language"] = language
    return response


def _invalid(request: HttpRequest) -> HttpResponse:
    """The same page for every bad token, in the browser's language (LocaleMiddleware)."""
    return _private(render(request, "feedback/invalid.html", status=404))


def _too_many(request: HttpRequest, language: str | None) -> HttpResponse:
    """The 429 page: in the customer's language when the token tells it, else the browser's."""
    with translation.override(language or translation.get_language()):
        return _private(render(request, "feedback/rate_limited.html"), language)


def _survey_too_many(request: HttpRequest, token: str) -> HttpResponse:
    language = SurveyInvitation.objects.for_token(token).values_list("language", flat=True).first()
    return _too_many(request, language)


def _unsubscribe_too_many(request: HttpRequest, token: str) -> HttpResponse:
    customer = unsubscribe_customer(token)
    return _too_many(request, customer.language if customer else None)


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
@rate_limited(RATE_SCOPE, _survey_too_many)
def survey_page(request: HttpRequest, token: str) -> HttpResponse:
    form = None
    if request.method == "POST":
        # The customer's one chance to speak: a connection lost under the answer's
        # transaction is retried once on a fresh one (aftersales/core/dbretry.py). Safe to
        # repeat: an invitation has one answer and a repeat amends it with the same
        # values, even when the first commit happened and only its acknowledgement was lost.
        try:
            form = retry_on_lost_connection(lambda: _answer(token, request.POST), what="a survey answer")
        except CONNECTION_ERRORS as error:
            if not connection_lost(error):
                raise
            return _not_saved(request, token)
        if form is None:
            return _invalid(request)
        if form.is_valid():
            return redirect("feedback:thanks", token=token)
    invitation = invitation_for_token(token)
    if invitation is None:
        return _invalid(request)
    return _survey(request, invitation, form)


def _answer(token: str, data: QueryDict) -> SurveyForm | None:
    """Record the answer POSTed for ``token``, as one transaction (run again whole if its connection is lost).

    The lean path (feedback/responses.py): one locking read and the writes. None
    when the token opens nothing; else the bound form, valid when the answer was stored.
    """
    with transaction.atomic():
        target = answer_target(token=token)
        if target is None:
            return None
        form = SurveyForm(data, survey=target.survey)
        if form.is_valid():
            survey_response_store(target=target, answer=form.answer())
        return form


def _survey(
    request: HttpRequest, invitation: SurveyInvitation, form: SurveyForm | None, *, not_saved: bool = False
) -> HttpResponse:
    """The survey page: the questions, with ``form``'s answer and errors, or the answer to amend."""
    with translation.override(invitation.language), timezone.override(invitation.customer.tz):
        current = SurveyResponse.objects.filter(invitation=invitation).first()
        if form is None:
            if invitation.opened_at is None and request.method == "GET":  # a HEAD is a bot's probe
                # Tracking only ("opened"); one conditional UPDATE, so only the first view counts.
                SurveyInvitation.objects.filter(pk=invitation.pk, opened_at__isnull=True).update(
                    opened_at=timezone.now()
                )
            form = SurveyForm(
                initial=SurveyForm.initial_from(current, request.GET.get("score")), survey=invitation.survey
            )
        context = {
            "form": form,
            "invitation": invitation,
            "customer": invitation.customer,
            "current": current,
            "not_saved": not_saved,
            "rep": rep_contact(invitation.customer.owner),
            "nps_labels": {0: translation.gettext("Not at all likely"), 10: translation.gettext("Extremely likely")},
        }
        page = render(request, "feedback/survey.html", context, status=503 if not_saved else 200)
        return _private(page, invitation.language)


def _not_saved(request: HttpRequest, token: str) -> HttpResponse:
    """The answer could not be stored, on two connections: say so (503), with the answer kept to send again.

    Usually the database is back a moment later: the survey page again, filled in
    with what the customer chose. If it is still out of reach, a page needing no
    database keeps the answer in hidden fields behind a "Send again" button, in the
    language the survey page posted (else the browser's).
    """
    try:
        invitation = invitation_for_token(token)
        if invitation is None:
            return _invalid(request)
        return _survey(request, invitation, SurveyForm(request.POST, survey=invitation.survey), not_saved=True)
    except CONNECTION_ERRORS as error:
        if not connection_lost(error):
            raise
        connection.close()
    language = request.POST.get("language", "")
    if language not in dict(settings.LANGUAGES):
        language = translation.get_language()
    answer = [(name, value) for name in ANSWER_FIELDS for value in request.POST.getlist(name)]
    with translation.override(language):
        # No request context: its processors may read the session, in the database.
        context = {"answer": answer, "csrf_token": get_token(request), "language": language}
        page = HttpResponse(render_to_string("feedback/not_saved.html", context), status=503)
    return _private(page, language)


@never_cache
@require_safe
@rate_limited(RATE_SCOPE, _survey_too_many)
def thanks_page(request: HttpRequest, token: str) -> HttpResponse:
    invitation = invitation_for_token(token)
    if invitation is None:
        return _invalid(request)
    response = SurveyResponse.objects.filter(invitation=invitation).first()
    if response is None:  # nothing answered yet: back to the questions
        return redirect("feedback:survey", token=token)
    with translation.override(invitation.language), timezone.override(invitation.customer.tz):
        context = {
            "invitation": invitation,
            "customer": invitation.customer,
            "response": response,
            # The call is opened by the worker a moment after the answer: pending counts.
            "follow_up": response.followup_id is not None or bool(response.loop_pending),
            "review_url": review_url(response),
            "rep": rep_contact(invitation.customer.owner),
        }
        return _private(render(request, "feedback/thanks.html", context), invitation.language)


# RFC 8058: mail providers POST "List-Unsubscribe=One-Click" from their servers,
# with no cookie and no CSRF token. The signed token is the authorisation, and
# unsubscribing twice is harmless, so this one view is exempt from CSRF.
@csrf_exempt
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
@rate_limited(RATE_SCOPE, _unsubscribe_too_many)
def unsubscribe_page(request: HttpRequest, token: str) -> HttpResponse:
    customer = unsubscribe_customer(token)
    if customer is None:
        return _invalid(request)
    with translation.override(customer.language), timezone.override(customer.tz):
        if request.method == "POST":
            customer_unsubscribe(customer=customer)
            template = "feedback/unsubscribed.html"
        else:  # a GET only asks: a link scanner must not unsubscribe anyone
            template = "feedback/unsubscribe_confirm.html"
        return _private(render(request, template, {"customer": customer}), customer.language)
