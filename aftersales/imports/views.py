"""The manager's import pages: upload, map columns and preview every problem, then commit with progress."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from aftersales.core.access import AuthenticatedRequest, manager_required
from aftersales.imports.jobs import import_job_create, import_job_preview, import_job_queue, progress_get
from aftersales.imports.mapping import FIELDS
from aftersales.imports.models import ImportJob
from aftersales.imports.reading import ReadError

ERRORS_PER_PAGE = 200


class UploadForm(forms.Form):
    file = forms.FileField(help_text="CSV (comma or semicolon, UTF-8 or Windows-1252) or Excel .xlsx")


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
            job = import_job_create(filename=upload.name, data=upload.read(), by=request.user)
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
    if request.method == "POST" and job.status in (ImportJob.Status.UPLOADED, ImportJob.Status.INVALID,
                                                     ImportJob.Status.READY):  # fmt: skip
        form = MappingForm(request.POST, header=header)
        if form.is_valid():
            mapping = {name: column for name, column in form.cleaned_data.items() if column}
            import_job_preview(job=job, mapping=mapping)
            return redirect("customers:import_detail", pk=job.pk)
    else:
        form = MappingForm(initial=job.mapping, header=header)
    errors = Paginator(job.errors, ERRORS_PER_PAGE).get_page(request.GET.get("page"))
    context = {"job": job, "form": form, "errors": errors, "progress": progress_get(job.pk)}
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


@manager_required
def import_progress(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Polled by htmx while the commit runs; when it is over, the whole page reloads to show the outcome."""
    job = get_object_or_404(ImportJob, pk=pk)
    response = render(request, "customers/import/_progress.html", {"job": job, "progress": progress_get(job.pk)})
    if job.status not in (ImportJob.Status.QUEUED, ImportJob.Status.RUNNING) and request.htmx:
        response["HX-Refresh"] = "true"
    return response
