"""What spreadsheet programs export is read right, in the worker; what is too big is refused before it is read."""

from __future__ import annotations

import io
import time
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from aftersales.celery import app as celery_app
from aftersales.imports.jobs import progress_set
from aftersales.imports.models import ImportJob
from aftersales.imports.tasks import import_check_task
from customers.models import Customer
from tests.factories import CheckupPlanFactory, PlanStepFactory, ProductFactory

NAMES = ["José Muñoz", "Françoise Lefèvre", "Zoë Ångström", "Œdipe Straße"]
CYRILLIC = ["Дмитрий Иванов", "Ольга Сидорова"]


@pytest.fixture(autouse=True)
def _var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path


@pytest.fixture
def product(db):
    plan = CheckupPlanFactory(name="Standard")
    PlanStepFactory(plan=plan, position=1, offset_days=3)
    return ProductFactory(sku="BOILER-1", default_plan=plan)


@pytest.fixture
def eager(monkeypatch):
    """The import's tasks run in this process when queued (the real-worker test is test_import_worker.py)."""
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)


def _upload(client, data: bytes, name: str = "sales.csv"):
    return client.post(reverse("customers:import_upload"), {"file": SimpleUploadedFile(name, data)})


def _table(names: list[str], delimiter: str) -> str:
    today = timezone.now().date().isoformat()
    lines = [delimiter.join(["Customer ID", "Customer name", "Order number", "SKU", "Order date", "Total"])]
    lines += [delimiter.join([f"C{n}", name, f"O{n}", "BOILER-1", today, "10"]) for n, name in enumerate(names)]
    return "\r\n".join(lines) + "\r\n"


# --- Encodings ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "data"),
    [
        # Excel's "Unicode Text": UTF-16 little-endian with its byte-order mark, tab-delimited.
        ("UTF-16 LE", ("\ufeff" + _table(NAMES + CYRILLIC, "\t")).encode("utf-16-le")),
        ("UTF-16 BE", ("\ufeff" + _table(NAMES + CYRILLIC, "\t")).encode("utf-16-be")),
        # Excel's "CSV UTF-8": a BOM, and semicolons where the decimal separator is a comma.
        ("UTF-8 BOM", ("\ufeff" + _table(NAMES + CYRILLIC, ";")).encode("utf-8")),
        ("UTF-8", _table(NAMES + CYRILLIC, ",").encode("utf-8")),
        # Excel's plain "CSV" in Western Europe and the Americas.
        ("Windows-1252", _table(NAMES, ",").encode("cp1252")),
    ],
)
def test_a_file_in_each_encoding_excel_writes_imports_with_its_accents(
    encoding, data, mary_client, product, eager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        detail = _upload(mary_client, data).url
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.READY, (job.status, job.last_error, job.errors[:3])
    with django_capture_on_commit_callbacks(execute=True):
        mary_client.post(reverse("customers:import_commit", args=[job.pk]))

    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE
    expected = NAMES + (CYRILLIC if encoding != "Windows-1252" else [])
    assert sorted(Customer.objects.values_list("name", flat=True)) == sorted(expected)
    assert "Customer ID" not in Customer.objects.values_list("name", flat=True)  # the BOM did not eat the header
    assert mary_client.get(detail).status_code == 200


def test_utf_16_without_its_byte_order_mark_is_refused_with_a_message_not_an_error_page(
    mary_client, product, eager, django_capture_on_commit_callbacks
):
    """It used to reach the database as NUL characters (a 500); now the worker refuses it, saying why."""
    with django_capture_on_commit_callbacks(execute=True):
        detail = _upload(mary_client, _table(NAMES, "\t").encode("utf-16-le")).url
    job = ImportJob.objects.get()

    assert job.status == ImportJob.Status.REFUSED
    page = mary_client.get(detail).content.decode()
    assert "This file cannot be imported:" in page and "save it as “CSV UTF-8”" in page
    assert "Try again" not in page  # the file is at fault, not the worker
    assert not Customer.objects.exists()


# --- Limits -------------------------------------------------------------------------------------

WORKBOOK = (
    b'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    b' xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    b'<sheets><sheet name="Sales" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WORKBOOK_RELS = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"'
    b' Target="worksheets/sheet1.xml"/></Relationships>'
)
BOMB_ROWS = 1_500_000


def _bomb(*, dimension: bool) -> bytes:
    """An XLSX whose only sheet holds 1.5 million tiny rows: over 60 MB of XML in well under 1 MB of zip."""
    # Row and cell numbers are optional in the format: every row is the same bytes, and compresses away.
    rows = b'<row><c t="inlineStr"><is><t>x</t></is></c></row>' * BOMB_ROWS
    declared = b'<dimension ref="A1:A%d"/>' % BOMB_ROWS if dimension else b""
    sheet = (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        + declared
        + b"<sheetData>"
        + rows
        + b"</sheetData></worksheet>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("xl/workbook.xml", WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        archive.writestr("xl/worksheets/sheet1.xml", sheet)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return _bomb(dimension=True)


def test_a_zip_bomb_workbook_is_refused_at_upload_before_it_is_read(mary_client, bomb):
    """It used to be parsed inside the upload request (a web thread busy for 78 s)."""
    assert len(bomb) < 1024 * 1024

    started = time.monotonic()
    response = _upload(mary_client, bomb, name="sales.xlsx")
    elapsed = time.monotonic() - started

    unpacked = sum(member.file_size for member in zipfile.ZipFile(io.BytesIO(bomb)).infolist()) // 1024**2
    assert response.status_code == 200  # the form again, with the reason
    assert (
        f"This workbook unpacks to {unpacked} MB, more than the 50 MB allowed; split it." in response.content.decode()
    )
    assert not ImportJob.objects.exists()
    assert elapsed < 5, f"the refusal took {elapsed:.1f}s"


def test_a_workbook_declaring_more_rows_than_allowed_is_refused_at_upload(mary_client, bomb, settings):
    settings.AFTERSALES = {**settings.AFTERSALES, "IMPORT_MAX_MB": 200}  # its size alone would pass

    started = time.monotonic()
    response = _upload(mary_client, bomb, name="sales.xlsx")

    assert "The file has more than 200,000 rows; split it into smaller files." in response.content.decode()
    assert not ImportJob.objects.exists()
    assert time.monotonic() - started < 5


def _xlsx(rows: int, *, declare: bool) -> bytes:
    """A workbook saved by openpyxl; without its <dimension> when ``declare`` is False (some exporters omit it)."""
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Customer ID", "Customer name", "Order number", "SKU", "Order date", "Total"])
    for n in range(rows):
        sheet.append([f"C{n}", f"Customer {n}", f"O{n}", "BOILER-1", timezone.now().date().isoformat(), 10])
    saved = io.BytesIO()
    workbook.save(saved)
    if declare:
        return saved.getvalue()
    stripped = io.BytesIO()
    with zipfile.ZipFile(saved) as source, zipfile.ZipFile(stripped, "w", zipfile.ZIP_DEFLATED) as target:
        for member in source.infolist():
            data = source.read(member)
            if member.filename.startswith("xl/worksheets/"):
                start = data.index(b"<dimension")
                data = data[:start] + data[data.index(b">", start) + 1 :]
            target.writestr(member, data)
    return stripped.getvalue()


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("sales.csv", lambda: _table([f"Customer {n}" for n in range(150)], ";").encode()),
        ("sales.xlsx", lambda: _xlsx(150, declare=False)),
    ],
)
def test_a_file_over_the_row_limit_that_does_not_say_so_is_refused_by_the_worker(
    name, data, mary_client, product, eager, settings, django_capture_on_commit_callbacks
):
    settings.AFTERSALES = {**settings.AFTERSALES, "IMPORT_MAX_ROWS": 100}
    with django_capture_on_commit_callbacks(execute=True):
        detail = _upload(mary_client, data(), name=name).url
    job = ImportJob.objects.get()

    assert job.status == ImportJob.Status.REFUSED
    assert job.last_error == "The file has more than 100 rows; split it into smaller files."
    assert "This file cannot be imported: The file has more than 100 rows" in mary_client.get(detail).content.decode()
    assert not Customer.objects.exists()


def test_a_workbook_declaring_its_rows_is_refused_at_upload(mary_client, settings):
    settings.AFTERSALES = {**settings.AFTERSALES, "IMPORT_MAX_ROWS": 100}

    response = _upload(mary_client, _xlsx(150, declare=True), name="sales.xlsx")

    assert "The file has more than 100 rows" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_a_file_over_the_size_limit_is_refused_at_upload(mary_client, settings):
    settings.AFTERSALES = {**settings.AFTERSALES, "IMPORT_MAX_MB": 1}

    response = _upload(mary_client, _table([f"Customer {n}" for n in range(30_000)], ";").encode())

    assert "The file is larger than 1 MB; split it into smaller files." in response.content.decode()
    assert not ImportJob.objects.exists()
    assert not list((settings.VAR_DIR / "imports").iterdir())  # nothing of it is kept


def test_the_refusal_is_in_the_managers_language(mary_client, settings, compiled_messages):
    settings.AFTERSALES = {**settings.AFTERSALES, "IMPORT_MAX_MB": 1}

    response = mary_client.post(
        reverse("customers:import_upload"),
        {"file": SimpleUploadedFile("ventas.csv", b"x" * (1024 * 1024 + 1))},
        headers={"Accept-Language": "es"},
    )

    assert "El archivo ocupa más de 1 MB; divídalo en archivos más pequeños." in response.content.decode()


# --- The worker reads, the page follows ------------------------------------------------------------


def test_the_upload_returns_at_once_and_the_preview_appears_when_the_worker_has_read_the_file(
    mary_client, product, django_capture_on_commit_callbacks
):
    data = _table([f"Customer {n}" for n in range(2_000)], ";").encode()
    with django_capture_on_commit_callbacks() as queued:  # not run: the task waits on the broker
        detail = _upload(mary_client, data).url
    job = ImportJob.objects.get()

    assert len(queued) == 1  # the check, queued once the upload is committed
    assert (job.status, job.total_rows, job.summary, job.errors) == (ImportJob.Status.UPLOADED, 0, {}, [])
    page = mary_client.get(detail).content.decode()
    assert "Waiting for a worker to read the file…" in page and 'hx-trigger="every 1s"' in page
    assert "Check the file" not in page  # no mapping before the columns are known
    progress_url = reverse("customers:import_progress", args=[job.pk])
    assert "HX-Refresh" not in mary_client.get(progress_url, headers={"HX-Request": "true"})

    assert import_check_task(job.pk) == ImportJob.Status.READY  # what a worker runs on that message

    assert mary_client.get(progress_url, headers={"HX-Request": "true"})["HX-Refresh"] == "true"
    page = mary_client.get(detail).content.decode()
    assert "2000 data rows" in page and "No problems found" in page
    assert '<option value="Customer ID" selected>' in page  # the mapping the worker guessed, to correct
    job.refresh_from_db()
    assert (job.total_rows, job.leased_until, job.attempts) == (2_000, None, 1)


@pytest.mark.parametrize(
    ("progress", "shown"),
    [
        ({"stage": "reading", "done": 5000, "total": 12001}, "Reading the file: 5000 rows so far"),
        ({"stage": "checking", "done": 5000, "total": 12000}, "Checking the file: row 5000 of 12000"),
    ],
)
def test_a_check_in_progress_shows_how_far_it_got(progress, shown, mary_client, mary):
    job = ImportJob.objects.create(created_by=mary, filename="big.csv", path="x", status="checking")
    progress_set(job.pk, progress)

    response = mary_client.get(reverse("customers:import_progress", args=[job.pk]), headers={"HX-Request": "true"})

    assert shown in response.content.decode()
    assert 'hx-trigger="every 1s"' in response.content.decode()
    assert "HX-Refresh" not in response


def test_a_new_mapping_is_checked_by_the_worker_too(mary_client, product, eager, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        detail = _upload(mary_client, _table(NAMES, ";").encode()).url
    job = ImportJob.objects.get()
    mapping = {**job.mapping, "email": "Customer name"}  # the manager maps the wrong column

    with django_capture_on_commit_callbacks() as queued:
        mary_client.post(detail, mapping)
    job.refresh_from_db()
    assert len(queued) == 1 and job.status == ImportJob.Status.UPLOADED
    queued[0]()  # the worker takes it

    job.refresh_from_db()
    assert job.status == ImportJob.Status.INVALID
    assert job.mapping["email"] == "Customer name"
    assert "&#x27;José Muñoz&#x27; is not a valid address." in mary_client.get(detail).content.decode()
