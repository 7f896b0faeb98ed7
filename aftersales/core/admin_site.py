"""The admin site, with Django's admin answering hand-made requests with a message instead of a 500.

Django's admin (5.2) trusts three things a browser using its pages always sends well-formed:

* the date drill-down of a list (``?ordered_at__year=9999``): the next day, month or year is
  computed from it, past Python's last date; a year 1 in a time zone east of UTC falls before
  the first one when PostgreSQL gets it;
* the ticked rows of a bulk action (``_selected_action=x``), passed to ``filter(pk__in=…)``;
* the value of an autocomplete field (``customer=x``), used in a query when the form is shown
  again with its errors.

Each raised ValueError or OverflowError, a 500. And a date typed into an admin form went
to the database as it was: year 9999 due dates then overflow wherever a page shows them in
a time zone east of UTC. This site gives every ModelAdmin registered on
it — ours, and those of django.contrib.auth and django-axes — and to their inlines the same
guards: a drill-down outside the input window (aftersales.core.inputs) is a bad lookup (the
list says so), rows that are no primary key are not ticked, an autocomplete shows nothing for
a value that is no id, and a date field refuses a date outside the window.
It is the default site (``AdminConfig`` in INSTALLED_APPS replaces ``django.contrib.admin``).
"""

from __future__ import annotations

import functools

from django.contrib import admin
from django.contrib.admin import helpers
from django.contrib.admin.apps import AdminConfig as DjangoAdminConfig
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.widgets import AutocompleteSelect, AutocompleteSelectMultiple
from django.core.exceptions import ValidationError
from django.db import models

from aftersales.core import inputs


def _accepts(field, value) -> bool:
    try:
        field.to_python(value)
    except (ValidationError, TypeError, ValueError):
        return False
    return True


class BoundedDates:
    """ChangeList mixin: the date drill-down stays inside the input window."""

    def get_filters(self, request):
        if self.date_hierarchy:
            year = request.GET.get(f"{self.date_hierarchy}__year")
            earliest, latest = inputs.EARLIEST_DATE.year, inputs.latest_date().year
            if year is not None and not (year.isascii() and year.isdigit() and earliest <= int(year) <= latest):
                raise IncorrectLookupParameters(f"{year!r} is not a year from {earliest} to {latest}.")
        try:
            return super().get_filters(request)
        except (OverflowError, ValueError) as exc:  # a month or day the calendar cannot hold
            raise IncorrectLookupParameters(exc) from exc


@functools.cache
def _bounded(changelist: type) -> type:
    return type(f"Bounded{changelist.__name__}", (BoundedDates, changelist), {})


class BoundedOptions:
    """Autocomplete widget mixin: values that are no id of the related model are not looked up."""

    def optgroups(self, name, value, attr=None):
        return super().optgroups(name, [item for item in value if _accepts(self.field.target_field, item)], attr)


class BoundedAutocompleteSelect(BoundedOptions, AutocompleteSelect):
    pass


class BoundedAutocompleteSelectMultiple(BoundedOptions, AutocompleteSelectMultiple):
    pass


class GuardedFields:
    """ModelAdmin and inline mixin: autocompletes that look up ids only, dates inside the input window."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if isinstance(db_field, models.DateField) and formfield is not None:  # DateTimeField included
            formfield.validators.append(inputs.DateWindowValidator(formfield.label))
        return formfield

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        return _bounded_widget(super().formfield_for_foreignkey(db_field, request, **kwargs))

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        return _bounded_widget(super().formfield_for_manytomany(db_field, request, **kwargs))


@functools.cache
def _guarded_inline(inline: type) -> type:
    attrs = {"__module__": inline.__module__, "__doc__": inline.__doc__}
    return type(inline.__name__, (GuardedFields, inline), attrs)


class HostileInputAdmin(GuardedFields):
    """What every ModelAdmin of this site gets (see the module's docstring)."""

    def get_inline_instances(self, request, obj=None):
        inlines = super().get_inline_instances(request, obj)
        for inline in inlines:
            if not isinstance(inline, GuardedFields):
                inline.__class__ = _guarded_inline(type(inline))
        return inlines

    def get_changelist(self, request, **kwargs):
        changelist = super().get_changelist(request, **kwargs)
        return changelist if issubclass(changelist, BoundedDates) else _bounded(changelist)

    def response_action(self, request, queryset):
        selected = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
        kept = [value for value in selected if _accepts(self.model._meta.pk, value)]
        if kept != selected:
            post = request.POST.copy()
            post.setlist(helpers.ACTION_CHECKBOX_NAME, kept)
            request.POST = post
        return super().response_action(request, queryset)


def _bounded_widget(formfield):
    widget = getattr(formfield, "widget", None)
    if type(widget) is AutocompleteSelect:
        widget.__class__ = BoundedAutocompleteSelect
    elif type(widget) is AutocompleteSelectMultiple:
        widget.__class__ = BoundedAutocompleteSelectMultiple
    return formfield


class AdminSite(admin.AdminSite):
    def register(self, model_or_iterable, admin_class=None, **options):
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, HostileInputAdmin):
            attrs = {"__module__": admin_class.__module__, "__doc__": admin_class.__doc__}
            admin_class = type(admin_class.__name__, (HostileInputAdmin, admin_class), attrs)
        return super().register(model_or_iterable, admin_class, **options)


class AdminConfig(DjangoAdminConfig):
    default_site = "aftersales.core.admin_site.AdminSite"
