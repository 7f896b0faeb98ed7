"""The dev mailbox: mail kept by DevMailboxBackend, readable by staff in the browser.

The HTML body of a message is untrusted markup (it may quote customer text), so
it is never inlined into our pages: it is served on its own URL with a
Content-Security-Policy that forbids scripts, and shown in a sandboxed iframe.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_POST

from aftersales.core.roles import Visitor, is_manager
from aftersales.mail.models import MailboxMessage, OutboxEmail

PAGE_SIZE = 50
# Scripts, frames, fonts and fetches are all off (the iframe sandbox blocks forms); images and inline
# styles are allowed so a mail looks like it would in a mail client.
HTML_CSP = "default-src 'none'; img-src data: https: http:; style-src 'unsafe-inline'"
# A link clicked inside the iframe would load its page into the frame, where our
# own pages refuse to render (X-Frame-Options: DENY): open links in a new tab,
# as a webmail client does. The sandbox lets that tab escape the sandbox.
LINKS_IN_NEW_TAB = '<base target="_blank">'


def with_links_in_new_tab(html: str) -> str:
    """Put the <base> into the head (or where the parser will move it there)."""
    for pattern in (r"<head\b[^>]*>", r"^\s*<!doctype[^>]*>"):
        match = re.search(pattern, html, re.IGNORECASE)
        if match:
            return html[: match.end()] + LINKS_IN_NEW_TAB + html[match.end() :]
    return LINKS_IN_NEW_TAB + html


def can_read_mailbox(user: Visitor) -> bool:
    return bool(user.is_authenticated and (user.is_staff or is_manager(user)))


def staff_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Anonymous users go to the login page; signed-in users who are not staff get a 403."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not can_read_mailbox(request.user):
            raise PermissionDenied("The dev mailbox is for staff.")
        return view(request, *args, **kwargs)

    return wrapper


@never_cache
@staff_required
def mailbox_list(request: HttpRequest) -> HttpResponse:
    # Bodies and raw source can be large; the list needs only the envelope.
    mails = MailboxMessage.objects.only("pk", "from_email", "to", "subject", "received_at").order_by(
        "-received_at", "-pk"
    )
    page = Paginator(mails, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "mailbox/list.html",
        {
            "page_obj": page,
            "mails": page.object_list,
            "dev_mailbox_enabled": settings.DEV_MAILBOX_ENABLED,
            # Mail the outbox gave up on after OUTBOX_MAX_ATTEMPTS: staff must see it, not just the log.
            "failed_count": OutboxEmail.objects.filter(failed_at__isnull=False).count(),
        },
    )


@never_cache
@staff_required
def mailbox_detail(request: HttpRequest, pk: int) -> HttpResponse:
    mail = get_object_or_404(MailboxMessage, pk=pk)
    headers = sorted(mail.headers.items()) if isinstance(mail.headers, dict) else []
    return render(request, "mailbox/detail.html", {"mail": mail, "headers": headers})


@never_cache
@xframe_options_sameorigin
@staff_required
def mailbox_html(request: HttpRequest, pk: int) -> HttpResponse:
    """The stored HTML as-is, for the sandboxed iframe of the detail page."""
    mail = get_object_or_404(MailboxMessage, pk=pk)
    if not mail.body_html:
        raise Http404("This message has no HTML part.")
    response = HttpResponse(with_links_in_new_tab(mail.body_html), content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = HTML_CSP
    return response


@require_POST
@staff_required
def mailbox_clear(request: HttpRequest) -> HttpResponse:
    deleted, _ = MailboxMessage.objects.all().delete()
    messages.success(request, f"Deleted {deleted} message(s) from the dev mailbox.")
    return redirect("mailbox:list")
