"""Reading a spreadsheet into (header, rows), tolerant of what spreadsheet programs export."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.utils.translation import gettext as _

from aftersales.core.inputs import storable

# Candidates for the delimiter: Excel in most of Europe writes ';', elsewhere ','.
DELIMITERS = ",;\t|"
XLSX_MAGIC = b"PK\x03\x04"


class ReadError(Exception):
    """The file cannot be read as a table at all (the message says why, for the manager)."""


@dataclass
class Table:
    header: list[str]
    # (row number as the spreadsheet shows it, values); the header is row 1.
    rows: list[tuple[int, list]]


def _decode(data: bytes) -> str:
    # utf-8-sig drops the BOM Excel puts in "CSV UTF-8" files; cp1252 is the other Excel default.
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ReadError("The file is neither UTF-8 nor Windows-1252 text; save it as “CSV UTF-8”.")


def _delimiter(text: str) -> str:
    """The candidate that splits the header line into the most columns (quoted parts aside)."""
    first_line = next(csv.reader(io.StringIO(text)), [""])
    sample = ",".join(first_line) if len(first_line) > 1 else text.split("\n", 1)[0]
    counts = {delimiter: sample.count(delimiter) for delimiter in DELIMITERS}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def read_csv(data: bytes) -> Table:
    text = _decode(data)
    if "\x00" in text:
        # No spreadsheet writes NULs into CSV text; a "Unicode text" (UTF-16) file is full of them.
        raise ReadError(
            _(
                "The file contains null characters: it is probably saved as UTF-16 (“Unicode text”); "
                "save it as “CSV UTF-8”."
            )
        )
    delimiter = _delimiter(text)
    # newline="" semantics: the csv module itself handles newlines inside quoted fields.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise ReadError("The file is empty.") from None
    rows = []
    try:
        # Numbered as the spreadsheet shows them: a quoted newline stays inside one row.
        for number, values in enumerate(reader, start=2):
            if any(value.strip() for value in values):
                rows.append((number, values))
    except csv.Error as exc:
        raise ReadError(f"Line {reader.line_num}: {exc}") from None
    return Table([name.strip() for name in header], rows)


def read_xlsx(data: bytes) -> Table:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise ReadError(f"This is not a readable Excel workbook ({type(exc).__name__}).") from None
    sheet = workbook.worksheets[0]
    iterator: Iterator = sheet.iter_rows(values_only=True)
    try:
        header = [str(value).strip() if value is not None else "" for value in next(iterator)]
    except StopIteration:
        raise ReadError("The first sheet is empty.") from None
    rows = []
    for number, values in enumerate(iterator, start=2):
        cells = ["" if value is None else value for value in values]
        if any(str(cell).strip() for cell in cells):
            rows.append((number, cells))
    workbook.close()
    return Table(header, rows)


def read_table(path: str | Path) -> Table:
    data = Path(path).read_bytes()
    table = read_xlsx(data) if data.startswith(XLSX_MAGIC) else read_csv(data)
    # The header is kept on the import job (JSON in the database): it must be storable text.
    if not all(storable(name) for name in table.header):
        raise ReadError(_("The header row contains a null character or a broken one; retype the column names."))
    return table


# Excel counts days from 1899-12-30 (its 1900 leap-year bug included).
EXCEL_EPOCH = dt.date(1899, 12, 30)


def excel_serial_date(value: float) -> dt.date:
    return EXCEL_EPOCH + dt.timedelta(days=int(value))
