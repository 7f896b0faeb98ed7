"""Admin actions that ask for something (a reason, a rep) on an intermediate page, then call a service.

The admin never writes a state field itself: an action collects what the
service needs with a small form and calls it, so the change is checked,
audited and has its side effects exactly as from the app's own pages. The
page posts back to the changelist with the same action, selection and
filters (``select_across`` included), plus ``apply``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

APPLY = "apply"
# The intermediate page lists at most this many of the selected rows by name.
LISTED = 20

M = TypeVar("M", bound=Model)


def action_form(request: HttpRequest, form_class: type[forms.Form], **kwargs: Any) -> forms.Form:
    """The action's form, bound when its page was submitted (``apply``), else empty."""
    if APPLY in request.POST:
        return form_class(request.POST, **kwargs)
    return form_class(**kwargs)


def action_page(
    model_admin: admin.ModelAdmin[Any],
    request: HttpRequest,
    queryset: QuerySet[Model],
    form: forms.Form,
    *,
    title: StrOrPromise,
    submit: StrOrPromise,
) -> TemplateResponse:
    """The intermediate page: what was selected, the form, and a button that applies the action."""
    opts = model_admin.model._meta
    selected = queryset[: LISTED + 1]
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "submit": submit,
        "form": form,
        "opts": opts,
        "media": model_admin.media + form.media,
        "listed": selected[:LISTED],
        "more": len(selected) > LISTED,
        "action": request.POST.get("action", ""),
        "select_across": request.POST.get("select_across", "0"),
        "selected_ids": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "apply": APPLY,
    }
    return TemplateResponse(request, "admin/action_form.html", context)


def error_text(exc: ValidationError | PermissionDenied) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc) or _("You may not do this.")


def apply_each(
    model_admin: admin.ModelAdmin[Any],
    request: HttpRequest,
    objects: Iterable[M],
    service: Callable[[M], object],
    *,
    done: Callable[[int], str],
) -> None:
    """Call ``service`` on each object (each call its own transaction) and report what was done and what was refused."""
    count, refused = 0, []
    for obj in objects:
        try:
            service(obj)
        except (ValidationError, PermissionDenied) as exc:
            refused.append(f"{obj}: {error_text(exc)}")
        else:
            count += 1
    if count:
        model_admin.message_user(request, done(count), messages.SUCCESS)
    if refused:
        head = ngettext("%(count)d not changed:", "%(count)d not changed:", len(refused)) % {"count": len(refused)}
        model_admin.message_user(request, " ".join([head, *refused[:LISTED]]), messages.ERROR)
