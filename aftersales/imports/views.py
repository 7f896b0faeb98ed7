"""The manager's import pages: upload; a worker checks the file (map columns, every problem listed), then imports
it; the page shows each step's progress, and offers to try again when a step failed."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from aftersales.core.access import AuthenticatedRequest, manager_required
from aftersales.imports.jobs import (
    import_job_create,
    import_job_queue,
    import_job_recheck,
    import_job_retry,
    progress_get,
)
from aftersales.imports.mapping import FIELDS
from aftersales.imports.models import ImportJob
from aftersales.imports.reading import ReadError

ERRORS_PER_PAGE = 200
# What a worker is doing, as its progress names it (aftersales/imports/jobs.py, commit.py).
STAGES = {
    "reading": gettext_lazy("reading the file"),
    "checking": gettext_lazy("checking"),
    "customers": gettext_lazy("customers"),
    "purchases": gettext_lazy("purchases"),
    "scheduling": gettext_lazy("scheduling check-ups"),
}


class UploadForm(forms.Form):
    file = forms.FileField(
        help_text=gettext_lazy("CSV (comma or semicolon; UTF-8, UTF-16 or Windows-1252) or Excel .xlsx")
    )


class MappingForm(forms.Form):
    """One select per field, listing the file's columns; pre-filled with the guesses."""

    def __init__(self, *args, header: list[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", "— not in this file —"), *((column, column) for column in header if column)]
        for field in FIELDS:
            self.fields[field.name] = forms.ChoiceField(
                label=field.label, choices=choices, required=field.required, help_text=field.help
            )


@manager_required
def import_upload(request: AuthenticatedRequest) -> HttpResponse:
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            # Kept and checked against the limits only: a worker reads it, and this page shows how far it got.
            job = import_job_create(filename=upload.name, file=upload, by=request.user)
        except ReadError as exc:
            form.add_error("file", str(exc))
        else:
            return redirect("customers:import_detail", pk=job.pk)
    jobs = ImportJob.objects.select_related("created_by")[:10]
    return render(request, "customers/import/upload.html", {"form": form, "jobs": jobs})


@manager_required
def import_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(ImportJob, pk=pk)
    header = job.summary.get("header", [])
    if request.method == "POST" and job.status in (ImportJob.Status.INVALID, ImportJob.Status.READY):
        form = MappingForm(request.POST, header=header)
        if form.is_valid():
            mapping = {name: column for name, column in form.cleaned_data.items() if column}
            import_job_recheck(job=job, mapping=mapping)  # a worker checks the file again with it
            return redirect("customers:import_detail", pk=job.pk)
    else:
        form = MappingForm(initial=job.mapping, header=header)
    errors = Paginator(job.errors, ERRORS_PER_PAGE).get_page(request.GET.get("page"))
    context = {"job": job, "form": form, "errors": errors, **_progress(job)}
    return render(request, "customers/import/detail.html", context)


@require_POST
@manager_required
def import_commit(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(ImportJob, pk=pk)
    if import_job_queue(job=job):
        messages.success(request, "The import is running; this page shows its progress.")
    else:
        messages.error(request, "Only a previewed file without errors can be imported, and only once.")
    return redirect("customers:import_detail", pk=job.pk)


@require_POST
@manager_required
def import_retry(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(ImportJob, pk=pk)
    if import_job_retry(job=job):
        messages.success(request, _("Trying again; this page shows the progress."))
    else:
        messages.error(request, _("Only a failed check or import can be tried again."))
    return redirect("customers:import_detail", pk=job.pk)


@manager_required
def import_progress(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Polled by htmx while a worker checks or imports the file; when it is over, the page reloads with the outcome."""
    job = get_object_or_404(ImportJob, pk=pk)
    response = render(request, "customers/import/_progress.html", {"job": job, **_progress(job)})
    if not job.in_progress and request.htmx:
        response["HX-Refresh"] = "true"
    return response


def _progress(job: ImportJob) -> dict:
    """How far the worker got, for customers/import/_progress.html."""
    progress = progress_get(job.pk) or {}
    return {"progress": progress, "stage": STAGES.get(str(progress.get("stage")), gettext_lazy("starting"))}
