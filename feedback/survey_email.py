"""The survey email and its reminder: what the customer reads, in their language, from their rep.

The eleven NPS scores are links in the mail itself, so answering takes one
click (the survey page opens with that score chosen; a GET records nothing,
since mail scanners follow links) plus one submit. The clear token is only
known inside the send transaction, so the links are rendered there and live
only in the outbox row; the invitation keeps the hash.

Customer- and staff-controlled text reaches three places: the HTML part
(autoescaped by the template engine), the plain-text part (no HTML there, so
nothing to escape), and the headers — where CR/LF would start a forged
header, so the subject and the From name are folded onto one line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.utils import formataddr, parseaddr

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from aftersales.mail.models import OutboxEmail
from aftersales.mail.outbox import outbox_enqueue
from feedback.models import SurveyInvitation
from feedback.services.unsubscribe import unsubscribe_url
from touchpoints.careplan import email_subject, rep_contact

SCORES = range(11)  # NPS: 0 (not at all likely) … 10 (extremely likely)
# The brand in "Alice Archer via Aftersales" when DEFAULT_FROM_EMAIL has no display name.
FALLBACK_BRAND = "Aftersales"
_SURVEY_PATH = re.compile(r"/feedback/s/([A-Za-z0-9_\-]{16,100})/")


def survey_url(token: str, score: int | None = None) -> str:
    """The absolute survey link (SITE_URL: mail is rendered outside any request), optionally with a score chosen."""
    url = settings.SITE_URL + reverse("feedback:survey", args=[token])
    if score is not None:
        url += "?" + urlencode({"score": int(score)})
    return url


def tokens_in(text: str) -> list[str]:
    """Survey tokens in a rendered mail; the reminder finds the invitation's link again this way."""
    return _SURVEY_PATH.findall(text)


def one_line(text: str) -> str:
    """Header-safe: CR, LF and other control characters become spaces."""
    return re.sub(r"[\x00-\x1f\x7f]+", " ", text).strip()


def sender(rep: dict[str, str]) -> str:
    """ "Alice Archer via Aftersales <aftersales@…>": the rep's name, our address (the domain we may send from)."""
    brand, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    name = _("%(rep)s via %(brand)s") % {"rep": one_line(rep["name"]), "brand": one_line(brand) or FALLBACK_BRAND}
    return formataddr((name[:200], address))


@dataclass(frozen=True)
class SurveyEmail:
    subject: str
    body_text: str
    body_html: str
    from_email: str
    reply_to: str
    headers: dict[str, str]


def survey_email(*, invitation: SurveyInvitation, token: str, reminder: bool = False) -> SurveyEmail:
    """Render the invitation (or its reminder) in the customer's language and time zone."""
    customer = invitation.customer
    with translation.override(customer.language), timezone.override(customer.tz):
        rep = rep_contact(customer.owner)
        rep_name = one_line(rep["name"])
        if reminder:
            subject = _("Reminder: %(rep)s would still like your opinion") % {"rep": rep_name}
        else:
            subject = _("%(rep)s asks: how are we doing?") % {"rep": rep_name}
        subject = email_subject(subject)
        unsubscribe = unsubscribe_url(customer)
        context = {
            "customer": customer,
            "rep": rep,
            "language": customer.language,
            "subject": subject,
            "reminder": reminder,
            "scores": [(score, survey_url(token, score)) for score in SCORES],
            "survey_url": survey_url(token),
            "unsubscribe_url": unsubscribe,
            "expires_on": date_format(invitation.expires_at.astimezone(customer.tz), "DATE_FORMAT"),
        }
        template = "survey_reminder" if reminder else "survey_invitation"
        return SurveyEmail(
            subject=subject,
            body_text=render_to_string(f"emails/{template}.txt", context),
            body_html=render_to_string(f"emails/{template}.html", context),
            from_email=sender(rep),
            # Replies reach the rep who signs the mail, not a no-reply box.
            reply_to=rep["email"] or "",
            headers={
                # RFC 8058 one-click unsubscribe: mail clients POST to this URL.
                "List-Unsubscribe": f"<{unsubscribe}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
        )


def survey_email_enqueue(*, invitation: SurveyInvitation, token: str, reminder: bool = False) -> OutboxEmail:
    """Write the mail to the outbox; call inside the transaction that claimed the invitation."""
    mail = survey_email(invitation=invitation, token=token, reminder=reminder)
    return outbox_enqueue(
        to=invitation.customer.email,
        subject=mail.subject,
        body_text=mail.body_text,
        body_html=mail.body_html,
        kind=OutboxEmail.Kind.SURVEY_REMINDER if reminder else OutboxEmail.Kind.SURVEY,
        customer=invitation.customer,
        headers=mail.headers,
        from_email=mail.from_email,
        reply_to=mail.reply_to,
    )
