"""Spreadsheet import: every problem listed by row and column first, then all or nothing, idempotent."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from aftersales.celery import app as celery_app
from aftersales.customer_pages.merge import customers_merge
from aftersales.imports.commit import import_commit
from aftersales.imports.mapping import guess_mapping
from aftersales.imports.models import ImportJob
from aftersales.imports.reading import read_csv
from aftersales.imports.validation import parse_amount, parse_date, preview_table
from aftersales.mail.models import OutboxEmail
from customers.models import Customer, Purchase
from tests.factories import CheckupPlanFactory, CustomerFactory, PlanStepFactory, ProductFactory, PurchaseFactory
from touchpoints.models import TouchPoint
from touchpoints.planning import touchpoints_schedule, touchpoints_schedule_bulk

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)  # a Monday
HEADER = "Customer ID;Customer name;Email;Rep;Order number;SKU;Order date;Delivery date;Total;Currency"


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def product(db):
    plan = CheckupPlanFactory(name="Standard")
    PlanStepFactory(plan=plan, position=1, offset_days=3, objective="First call")
    PlanStepFactory(plan=plan, position=2, offset_days=30, objective="Visit")
    return ProductFactory(sku="BOILER-1", default_plan=plan)


def _csv(*lines: str, bom: bool = True) -> bytes:
    text = "\r\n".join(lines) + "\r\n"
    return ("\ufeff" if bom else "").encode() + text.encode()


def _good_row(n: int, rep: str = "alice") -> str:
    return f"C{n};Customer {n};c{n}@example.com;{rep};O{n};BOILER-1;2026-03-01;02/03/2026;1.234,50;eur"


def _preview(data: bytes):
    table = read_csv(data)
    return preview_table(table, guess_mapping(table.header))


# --- Reading what spreadsheets export ---------------------------------------------------


def test_a_bom_semicolons_and_a_quoted_newline_are_read_as_excel_meant_them():
    table = read_csv(_csv("Customer ID;Customer name;Notes", 'C1;"Ann; Ltd";"line one\nline two"', "C2;Bo;x"))

    assert table.header == ["Customer ID", "Customer name", "Notes"]
    assert table.rows[0] == (2, ["C1", "Ann; Ltd", "line one\nline two"])
    # The quoted newline stays inside row 2: the next row is row 3, as the spreadsheet numbers it.
    assert table.rows[1] == (3, ["C2", "Bo", "x"])


def test_comma_delimited_windows_1252_files_are_read_too():
    table = read_csv("Customer ID,Customer name\r\nC1,Jos\xe9\r\n".encode("cp1252"))

    assert table.rows == [(2, ["C1", "José"])]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-03-01", dt.date(2026, 3, 1)),
        ("01/03/2026", dt.date(2026, 3, 1)),
        ("1.3.2026", dt.date(2026, 3, 1)),
        ("46082", dt.date(2026, 3, 1)),  # Excel's serial number for 1 March 2026
        (46082.0, dt.date(2026, 3, 1)),
        ("2026-03-01 00:00:00", dt.date(2026, 3, 1)),
    ],
)
def test_dates_in_the_usual_spreadsheet_forms(value, expected):
    assert parse_date(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1.234,50", "1234.50"), ("1,234.50", "1234.50"), ("99,9", "99.90"), ("1,000", "1000.00"), ("€ 12", "12.00")],
)
def test_amounts_with_either_decimal_separator(value, expected):
    assert parse_amount(value) == Decimal(expected)


def test_columns_are_guessed_from_their_headers():
    mapping = guess_mapping(HEADER.split(";"))

    assert mapping["customer_ref"] == "Customer ID"
    assert mapping["order_ref"] == "Order number"
    assert mapping["ordered_at"] == "Order date"
    assert mapping["amount"] == "Total"
    assert mapping["owner"] == "Rep"


# --- Preview ---------------------------------------------------------------------------------


def test_every_problem_is_named_by_row_and_column(alice, product):
    data = _csv(
        HEADER,
        _good_row(1),
        "C2;Bad Email;x@;alice;O2;BOILER-1;2026-03-01;;10;EUR",
        "C3;Bad date;c3@example.com;alice;O3;BOILER-1;31/02/2026;;10;EUR",
        "C4;Unknown sku;c4@example.com;nobody;O4;NOPE;2026-03-01;;-5;EUR",
        "C5;Late;c5@example.com;alice;O5;BOILER-1;2026-03-01;2026-02-01;10;EUR",
    )

    errors = _preview(data).errors

    assert {"row": 3, "column": "Email", "message": "'x@' is not a valid address."} in errors
    assert any(e["row"] == 4 and e["column"] == "Order date" and "'31/02/2026' is not a date" in e["message"]
               for e in errors)  # fmt: skip
    assert {(e["row"], e["column"]) for e in errors if e["row"] == 5} == {(5, "Rep"), (5, "SKU"), (5, "Total")}
    assert {"row": 6, "column": "Delivery date", "message": "Delivered before it was ordered."} in errors
    assert not any(e["row"] == 2 for e in errors)


def test_an_order_twice_in_one_file_is_an_error_naming_both_rows(alice, product):
    errors = _preview(_csv(HEADER, _good_row(1), _good_row(1))).errors

    assert errors == [{"row": 3, "column": "Order number", "message": "Order 'O1' is already on row 2."}]


def test_a_file_with_ten_percent_bad_rows_lists_every_error_and_writes_nothing(alice, product):
    rows = [_good_row(n) if n % 10 else _good_row(n).replace("2026-03-01", "someday") for n in range(1, 101)]
    preview = _preview(_csv(HEADER, *rows))

    assert [error["row"] for error in preview.errors] == [n + 1 for n in range(10, 101, 10)]
    assert all(error["column"] == "Order date" for error in preview.errors)
    with pytest.raises(ValueError, match="never written"):
        import_commit(preview=preview, by=alice)
    assert Customer.objects.count() == Purchase.objects.count() == TouchPoint.objects.count() == 0


def test_an_order_already_recorded_for_another_customer_is_refused(alice, product):
    PurchaseFactory(external_ref="O1", customer=CustomerFactory(external_ref="OTHER"), product=product)

    errors = _preview(_csv(HEADER, _good_row(1))).errors

    assert errors == [
        {"row": 2, "column": "Order number", "message": "Order 'O1' is already recorded for another customer."}
    ]


# --- Commit ----------------------------------------------------------------------------------


def test_commit_creates_customers_and_purchases_and_schedules_their_checkups(alice, mary, product):
    preview = _preview(_csv(HEADER, _good_row(1), _good_row(2, rep="mary")))

    result = import_commit(preview=preview, by=mary)

    assert result == {
        "new_customers": 2, "updated_customers": 0, "new_purchases": 2, "updated_purchases": 0,
        "checkups_scheduled": 4,
    }  # fmt: skip
    customer = Customer.objects.get(external_ref="C1")
    assert (customer.owner, customer.email) == (alice, "c1@example.com")
    purchase = customer.purchases.get()
    assert (purchase.external_ref, purchase.amount, purchase.currency) == ("O1", Decimal("1234.50"), "EUR")
    assert purchase.delivered_at == dt.date(2026, 3, 2)
    days = [tp.due_at.date() for tp in purchase.touchpoints.order_by("due_at")]
    assert days == [dt.date(2026, 3, 5), dt.date(2026, 4, 1)]  # 3 and 30 days after delivery
    assert set(purchase.touchpoints.values_list("assignee", flat=True)) == {alice.pk}
    # Imported history does not mail every customer in the file.
    assert not OutboxEmail.objects.exists()


def test_importing_the_same_file_twice_updates_and_never_duplicates(alice, product):
    data = _csv(HEADER, _good_row(1), _good_row(2))
    import_commit(preview=_preview(data), by=alice)

    changed = data.replace(b"Customer 2;", b"Customer Two;").replace(b"1.234,50;eur\r\n", b"99;eur\r\n", 1)
    second = _preview(changed)
    result = import_commit(preview=second, by=alice)

    assert second.summary()["new_customers"] == second.summary()["new_purchases"] == 0
    assert result["new_customers"] == result["new_purchases"] == result["checkups_scheduled"] == 0
    assert (result["updated_customers"], result["updated_purchases"]) == (1, 1)
    assert Customer.objects.count() == Purchase.objects.count() == 2
    assert TouchPoint.objects.count() == 4
    assert Customer.objects.get(external_ref="C2").name == "Customer Two"
    assert Purchase.objects.get(external_ref="O1").amount == Decimal("99.00")


def test_bulk_scheduling_follows_the_same_rules_as_purchase_record(alice, product):
    """One source of truth: the import's bulk path makes exactly the rows touchpoints_schedule makes."""
    customer = CustomerFactory(owner=alice, timezone="America/New_York")
    one = PurchaseFactory(customer=customer, product=product, ordered_at=dt.date(2026, 2, 27),
                          renewal_date=dt.date(2026, 9, 1))  # fmt: skip
    two = PurchaseFactory(customer=customer, product=product, ordered_at=dt.date(2026, 2, 27),
                          renewal_date=dt.date(2026, 9, 1))  # fmt: skip

    touchpoints_schedule(purchase=one)
    touchpoints_schedule_bulk(purchases=[Purchase.objects.select_related("customer", "product").get(pk=two.pk)])

    def rows(purchase):
        return list(purchase.touchpoints.order_by("due_at").values_list("kind", "channel", "objective", "due_at"))

    assert rows(one) == rows(two)
    assert len(rows(one)) == 4  # two plan steps, two renewal calls


def test_xlsx_with_real_date_cells(alice, product, tmp_path):
    from openpyxl import Workbook

    from aftersales.imports.reading import read_table

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Customer ID", "Customer name", "Order number", "SKU", "Order date", "Total"])
    sheet.append(["C1", "Ann", "O1", "BOILER-1", dt.datetime(2026, 3, 1), 10.5])
    path = tmp_path / "sales.xlsx"
    workbook.save(path)

    table = read_table(path)
    preview = preview_table(table, guess_mapping(table.header))

    assert preview.errors == []
    assert preview.purchases[0].ordered_at == dt.date(2026, 3, 1)
    assert preview.purchases[0].amount == Decimal("10.50")


# --- The manager's page ----------------------------------------------------------------------


def _upload(client, data: bytes, name: str = "sales.csv"):
    return client.post(reverse("customers:import_upload"), {"file": SimpleUploadedFile(name, data)})


@pytest.fixture
def _var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path


def test_a_manager_sees_the_bad_rows_fixes_them_and_imports(
    mary_client, alice, product, _var_dir, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)  # the check and commit tasks run in-process
    rows = [_good_row(n) for n in range(1, 21)]
    rows[6] = rows[6].replace("c7@example.com", "x@")
    rows[15] = rows[15].replace("2026-03-01", "2026-13-45")
    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(mary_client, _csv(HEADER, *rows))
    job = ImportJob.objects.get()
    assert response.url == reverse("customers:import_detail", args=[job.pk])

    page = mary_client.get(response.url)
    assert b"Customer ID" in page.content  # the mapping form lists the file's columns
    with django_capture_on_commit_callbacks(execute=True):
        mary_client.post(response.url, dict(_mapping_form(job)))
    page = mary_client.get(response.url).content.decode()

    assert "2 problems found; nothing was saved" in page
    assert "&#x27;x@&#x27; is not a valid address." in page
    assert "<td>8</td><td>Email</td>" in page and "<td>17</td><td>Order date</td>" in page
    assert Customer.objects.count() == 0
    assert mary_client.post(reverse("customers:import_commit", args=[job.pk])).status_code == 302
    assert Customer.objects.count() == 0  # not ready: refused

    fixed = [_good_row(n) for n in range(1, 21)]
    with django_capture_on_commit_callbacks(execute=True):
        job = ImportJob.objects.get(pk=_upload(mary_client, _csv(HEADER, *fixed)).url.split("/")[-2])
    with django_capture_on_commit_callbacks(execute=True):
        mary_client.post(reverse("customers:import_detail", args=[job.pk]), dict(_mapping_form(job)))
    assert "No problems found" in mary_client.get(reverse("customers:import_detail", args=[job.pk])).content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        mary_client.post(reverse("customers:import_commit", args=[job.pk]))

    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE
    assert not Path(job.path).exists()  # the upload is not kept once imported
    assert Purchase.objects.count() == 20
    assert all(purchase.touchpoints.count() == 2 for purchase in Purchase.objects.all())
    page = mary_client.get(reverse("customers:import_detail", args=[job.pk])).content.decode()
    assert "20 new and 0 updated purchases, 40 check-ups scheduled" in page
    progress = mary_client.get(reverse("customers:import_progress", args=[job.pk]), headers={"HX-Request": "true"})
    assert progress["HX-Refresh"] == "true"


def _mapping_form(job):
    job.refresh_from_db()
    return job.mapping.items()


def test_a_running_import_shows_its_progress(mary_client, mary, _var_dir):
    from aftersales.imports.jobs import progress_set

    job = ImportJob.objects.create(created_by=mary, filename="big.csv", path="x", status="running", total_rows=10)
    progress_set(job.pk, {"stage": "purchases", "done": 4000, "total": 10000})

    response = mary_client.get(reverse("customers:import_progress", args=[job.pk]), headers={"HX-Request": "true"})

    assert "purchases 4000 of 10000" in response.content.decode()
    assert 'hx-trigger="every 1s"' in response.content.decode()
    assert "HX-Refresh" not in response


def test_a_rep_cannot_open_the_import(alice_client):
    assert alice_client.get(reverse("customers:import_upload")).status_code == 403


def test_a_file_that_is_not_a_table_is_refused_with_a_message(mary_client, _var_dir):
    response = _upload(mary_client, b"PK\x03\x04garbage", name="sales.xlsx")

    assert "not a readable Excel workbook" in response.content.decode()
    assert not ImportJob.objects.exists()


# --- The command -----------------------------------------------------------------------------


def test_the_command_lists_problems_and_writes_nothing(alice, product, tmp_path):
    path = tmp_path / "sales.csv"
    path.write_bytes(_csv(HEADER, _good_row(1), _good_row(2).replace("c2@example.com", "nope")))
    out = io.StringIO()

    with pytest.raises(CommandError, match="Nothing was imported"):
        call_command("import_sales", str(path), "--by", "alice", stdout=out)

    assert "row 3, Email: 'nope' is not a valid address." in out.getvalue()
    assert not Customer.objects.exists()


def test_the_command_imports_a_clean_file(alice, product, tmp_path):
    path = tmp_path / "sales.csv"
    path.write_bytes(_csv(HEADER, _good_row(1), _good_row(2)))
    out = io.StringIO()

    call_command("import_sales", str(path), "--by", "alice", stdout=out)

    assert "new purchases 2" in out.getvalue()
    assert Purchase.objects.count() == 2


def test_the_ten_thousand_row_journey(
    mary_client, alice, product, _var_dir, monkeypatch, django_capture_on_commit_callbacks
):
    """Issue 7's "done when": two bad rows named before anything is saved; fixed, everything imported."""
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)  # the check and commit tasks run in-process
    rows = [_good_row(n) for n in range(1, 10_001)]
    rows[4_999] = rows[4_999].replace("1.234,50", "lots")
    rows[9_998] = rows[9_998].replace("BOILER-1", "BOILER-9")
    with django_capture_on_commit_callbacks(execute=True):
        job_url = _upload(mary_client, _csv(HEADER, *rows)).url
    job = ImportJob.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        mary_client.post(job_url, dict(_mapping_form(job)))

    job.refresh_from_db()
    assert [(error["row"], error["column"]) for error in job.errors] == [(5001, "Total"), (10000, "SKU")]
    assert Customer.objects.count() == 0

    with django_capture_on_commit_callbacks(execute=True):
        fixed = ImportJob.objects.get(
            pk=_upload(mary_client, _csv(HEADER, *[_good_row(n) for n in range(1, 10_001)])).url.split("/")[-2]
        )
    with django_capture_on_commit_callbacks(execute=True):
        mary_client.post(reverse("customers:import_detail", args=[fixed.pk]), dict(_mapping_form(fixed)))
    with django_capture_on_commit_callbacks(execute=True):
        mary_client.post(reverse("customers:import_commit", args=[fixed.pk]))

    fixed.refresh_from_db()
    assert fixed.status == ImportJob.Status.DONE
    assert Purchase.objects.count() == 10_000
    assert TouchPoint.objects.count() == 20_000
    assert not Purchase.objects.filter(touchpoints__isnull=True).exists()


def test_a_file_naming_a_merged_customer_lands_its_sales_on_the_customer_it_was_merged_into(alice, mary, product):
    """Importing the same file after a merge: no error, no revived duplicate, the new sale on the survivor."""
    import_commit(preview=_preview(_csv(HEADER, _good_row(1))), by=alice)
    survivor = CustomerFactory(owner=alice, name="Customer One", external_ref="KEEP-1")
    customers_merge(survivor=survivor, merged=Customer.objects.get(external_ref="C1"), by=mary)

    again = _preview(_csv(HEADER, _good_row(1), _good_row(1).replace(";O1;", ";O9;")))
    result = import_commit(preview=again, by=alice)

    assert again.errors == [] and again.summary()["new_customers"] == 0
    assert (result["new_customers"], result["updated_customers"], result["new_purchases"]) == (0, 0, 1)
    assert set(survivor.purchases.values_list("external_ref", flat=True)) == {"O1", "O9"}
    assert Customer.objects.get(external_ref="C1").name.startswith("Merged into customer #")


# --- Hostile files: a row and column error, or a message; never a 500 (issue 14) ---------------


@pytest.mark.parametrize(
    ("cell", "column"),
    [
        ("Order date", "9999-06-01"),
        ("Order date", "31/12/9999"),
        ("Order date", "1999-12-31"),
        ("Order date", "99999"),  # an Excel serial number: 14 October 2173
        ("Delivery date", "9999-12-31"),
    ],
    ids=lambda value: value,
)
def test_a_date_outside_the_window_is_a_row_and_column_error(alice, product, cell, column):
    """Year 9999 passed "Check the file" and then failed at commit with the raw exception on the page."""
    row = _good_row(1).split(";")
    row[HEADER.split(";").index(cell)] = column
    if cell == "Order date":
        row[HEADER.split(";").index("Delivery date")] = ""

    errors = _preview(_csv(HEADER, ";".join(row))).errors

    assert errors == [{"row": 2, "column": cell, "message": f"{cell}: use a date from 2000-01-01 to 2046-03-02."}]


def test_the_last_date_of_the_window_passes_the_preview_and_commits(alice, mary, product):
    row = _good_row(1).replace("2026-03-01;02/03/2026", "2046-03-02;")
    preview = _preview(_csv(HEADER, row))

    assert preview.errors == []
    assert import_commit(preview=preview, by=mary)["checkups_scheduled"] == 2


@pytest.mark.parametrize(
    ("total", "currency", "column", "message"),
    [
        ("10000000000", "EUR", "Total", "Total: use an amount from 0 to 9,999,999,999.99."),
        ("9" * 40, "EUR", "Total", "Total: use an amount from 0 to 9,999,999,999.99."),
        ("10", "XYZ", "Currency", "Currency: use a three-letter currency code (ISO 4217), such as EUR."),
    ],
)
def test_amounts_and_currencies_follow_the_same_rule_as_the_form(alice, product, total, currency, column, message):
    row = _good_row(1).replace("1.234,50;eur", f"{total};{currency}")

    assert _preview(_csv(HEADER, row)).errors == [{"row": 2, "column": column, "message": message}]


def test_a_null_character_in_a_cell_is_a_row_and_column_error(db):
    """A cell of a workbook can hold one (OOXML's _x0000_ escape); the database cannot."""
    from aftersales.imports.reading import Table

    table = Table(["Customer ID", "Customer name"], [(2, ["C1", "Ana\x00"])])

    assert preview_table(table, guess_mapping(table.header)).errors == [
        {
            "row": 2,
            "column": "Customer name",
            "message": "Customer name: the text contains a null character or a broken one; retype it.",
        },
        {"row": 2, "column": "Customer name", "message": "The customer name is empty."},
    ]


def test_a_blank_delivery_cell_cannot_leave_a_recorded_delivery_before_the_new_order_date(alice, product):
    """The commit keeps the recorded delivery for a blank cell: it must still follow the order, or the
    database refuses the row at commit, after the preview said the file was fine."""
    import_commit(preview=_preview(_csv(HEADER, _good_row(1))), by=alice)  # delivered 02/03/2026
    later = _good_row(1).replace("2026-03-01;02/03/2026", "2026-04-01;")

    errors = _preview(_csv(HEADER, later)).errors

    assert [(error["row"], error["column"]) for error in errors] == [(2, "Order date")]
    assert "delivered on 2026-03-02" in errors[0]["message"]


def test_a_commit_that_fails_shows_no_exception_text(alice, mary, product, _var_dir, monkeypatch):
    """What went wrong is in the log for the administrator; the page says that it failed, not the SQL."""
    from aftersales.imports import jobs

    path = jobs.imports_dir() / "sales.csv"
    path.write_bytes(_csv(HEADER, _good_row(1)))
    job = ImportJob.objects.create(created_by=mary, filename="sales.csv", path=str(path), mapping=guess_mapping(
        HEADER.split(";")), status=ImportJob.Status.QUEUED)  # fmt: skip

    def broken(**kwargs):
        raise RuntimeError('duplicate key value violates unique constraint "secret_index"')

    monkeypatch.setattr(jobs, "import_commit", broken)
    jobs.import_job_run(job_id=job.pk)

    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED
    assert "secret_index" not in job.last_error
    assert job.last_error == "an unexpected error, logged for the administrator."
