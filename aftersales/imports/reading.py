"""Reading a spreadsheet into (header, rows), tolerant of what spreadsheet programs export, within limits.

Limits (``IMPORT_MAX_MB``, ``IMPORT_MAX_ROWS``): :func:`check_file` refuses a
file before anything of it is read into memory — its size, and for an XLSX
(a zip) the unpacked sizes of its members and the rows its first sheet
declares. It is cheap (a zip's directory and a few KB of one member), so the
upload request runs it. Reading then counts rows as it goes and stops at the
limit, for the files that declare nothing (a CSV) or declare wrong.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext as _

# Candidates for the delimiter: Excel in most of Europe writes ';', elsewhere ','.
DELIMITERS = ",;\t|"
XLSX_MAGIC = b"PK\x03\x04"
# How often reading reports its progress, in rows.
PROGRESS_EVERY = 5000
# The encodings a CSV may come in: what spreadsheet programs write. charset-normalizer (already
# installed with requests, maintained, pure Python) picks among them: a byte-order mark decides at once
# (UTF-8, UTF-16 LE/BE — Excel's "Unicode Text" — or UTF-32), otherwise it measures how garbled each
# decoding would read instead of taking the first one that happens not to raise. Windows-1252 (Excel's
# "CSV" in Western Europe and the Americas) is the fallback. Windows-1251 (Russian Excel) is left out on
# purpose: on a short file nothing tells it from Windows-1252, and a wrong guess garbles names silently.
ENCODINGS = ["utf_8", "utf_16", "utf_32", "cp1252"]
FALLBACK_ENCODING = "cp1252"
# <dimension ref="A1:J1500001"/> near the top of a sheet: the cells it holds, as written by Excel and most libraries.
_DIMENSION = re.compile(rb"<(?:\w+:)?dimension\s+ref=\"[A-Z]*(\d*)(?::[A-Z]*(\d+))?\"")
# The first <sheet> of xl/workbook.xml and its relationship id (r:id="rId3").
_FIRST_SHEET = re.compile(rb"<(?:\w+:)?sheet\s[^>]*?\b(?:\w+:)?id=\"([^\"]+)\"")
_RELATIONSHIP = re.compile(rb"<(?:\w+:)?Relationship\s[^>]*>")
_ATTRIBUTE = re.compile(rb"\b(Id|Target)=\"([^\"]*)\"")

# Reading reports (rows read, rows expected or 0 when unknown) as it goes.
Progress = Callable[[int, int], None]


class ReadError(Exception):
    """The file cannot be read as a table at all (the message says why, for the manager)."""


@dataclass
class Table:
    header: list[str]
    # (row number as the spreadsheet shows it, values); the header is row 1.
    rows: list[tuple[int, list]]


def max_bytes() -> int:
    return settings.AFTERSALES["IMPORT_MAX_MB"] * 1024 * 1024


def max_rows() -> int:
    return settings.AFTERSALES["IMPORT_MAX_ROWS"]


def too_large_error() -> ReadError:
    return ReadError(
        _("The file is larger than %(limit)s MB; split it into smaller files.") % {"limit": max_bytes() // 1024**2}
    )


def too_many_rows_error() -> ReadError:
    return ReadError(
        _("The file has more than %(limit)s rows; split it into smaller files.") % {"limit": f"{max_rows():,}"}
    )


def check_file(path: str | Path) -> None:
    """Refuse a file over the limits without reading it (ReadError says why); cheap enough for a request."""
    path = Path(path)
    if path.stat().st_size > max_bytes():
        raise too_large_error()
    with path.open("rb") as file:
        if file.read(len(XLSX_MAGIC)) == XLSX_MAGIC:
            _check_xlsx(path)


def _not_a_workbook(exc: Exception) -> ReadError:
    return ReadError(_("This is not a readable Excel workbook (%(error)s).") % {"error": type(exc).__name__})


def _check_xlsx(path: Path) -> None:
    """An XLSX is a zip: a 0.4 MB file can unpack to a sheet of a million rows. Look before reading."""
    try:
        with zipfile.ZipFile(path) as archive:
            # The sizes the zip's directory declares; Python's zipfile never unpacks more than that.
            unpacked = sum(member.file_size for member in archive.infolist())
            if unpacked > max_bytes():
                raise ReadError(
                    _("This workbook unpacks to %(size)s MB, more than the %(limit)s MB allowed; split it.")
                    % {"size": unpacked // 1024**2, "limit": max_bytes() // 1024**2}
                )
            rows = _declared_rows(archive)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, OSError, EOFError) as exc:
        raise _not_a_workbook(exc) from None
    if rows is not None and rows - 1 > max_rows():
        raise too_many_rows_error()


def _declared_rows(archive: zipfile.ZipFile) -> int | None:
    """The last row number the first sheet declares (its <dimension>), or None when it declares none."""
    try:
        with archive.open(_first_sheet(archive)) as sheet:
            head = sheet.read(64 * 1024)
    except KeyError:
        return None
    match = _DIMENSION.search(head)
    if not match or not (match.group(2) or match.group(1)):
        return None
    return int(match.group(2) or match.group(1))


def _first_sheet(archive: zipfile.ZipFile) -> str:
    """The member holding the workbook's first sheet (the one imported), by the workbook's own relationships."""
    fallback = "xl/worksheets/sheet1.xml"
    try:
        workbook = archive.read("xl/workbook.xml")
        relationships = archive.read("xl/_rels/workbook.xml.rels")
    except KeyError:
        return fallback
    first = _FIRST_SHEET.search(workbook)
    if not first:
        return fallback
    for element in _RELATIONSHIP.findall(relationships):
        attributes = dict(_ATTRIBUTE.findall(element))
        if attributes.get(b"Id") == first.group(1) and b"Target" in attributes:
            target = attributes[b"Target"].decode("utf-8", "replace")
            return target.lstrip("/") if target.startswith("/") else f"xl/{target}"
    return fallback


def _decode(data: bytes) -> str:
    from charset_normalizer import from_bytes

    match = from_bytes(data, cp_isolation=ENCODINGS).best()
    encodings = [match.encoding, FALLBACK_ENCODING] if match else [FALLBACK_ENCODING]
    for encoding in encodings:
        try:
            # utf-8-sig drops the BOM Excel puts in "CSV UTF-8" files; the UTF-16/32 codecs read and drop theirs.
            text = data.decode("utf-8-sig" if encoding == "utf_8" else encoding)
            break
        except UnicodeDecodeError:  # a bad byte past the part charset-normalizer sampled
            continue
    else:
        raise ReadError(_("The file is neither UTF-8, UTF-16 nor Windows-1252 text; save it as “CSV UTF-8”."))
    if "\x00" in text:
        # UTF-16 without its byte-order mark, or not text at all: never store NULs (PostgreSQL's JSON refuses them).
        raise ReadError(_("The file is not plain text (it contains NUL characters); save it as “CSV UTF-8”."))
    return text


def _delimiter(text: str) -> str:
    """The candidate that splits the header line into the most columns (quoted parts aside)."""
    first_line = next(csv.reader(io.StringIO(text)), [""])
    sample = ",".join(first_line) if len(first_line) > 1 else text.split("\n", 1)[0]
    counts = {delimiter: sample.count(delimiter) for delimiter in DELIMITERS}
    best = max(counts, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


def _no_progress(done: int, total: int) -> None:
    return None


def read_csv(data: bytes, *, progress: Progress = _no_progress) -> Table:
    if len(data) > max_bytes():
        raise too_large_error()
    text = _decode(data)
    delimiter = _delimiter(text)
    # Lines, an upper bound of the rows (a quoted newline is one row): enough for a progress bar.
    expected = text.count("\n")
    limit = max_rows()
    # newline="" semantics: the csv module itself handles newlines inside quoted fields.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise ReadError(_("The file is empty.")) from None
    rows = []
    try:
        # Numbered as the spreadsheet shows them: a quoted newline stays inside one row.
        for number, values in enumerate(reader, start=2):
            if any(value.strip() for value in values):
                rows.append((number, values))
                if len(rows) > limit:
                    raise too_many_rows_error()
            if number % PROGRESS_EVERY == 0:
                progress(number, expected)
    except csv.Error as exc:
        raise ReadError(_("Line %(line)s: %(error)s") % {"line": reader.line_num, "error": exc}) from None
    return Table([name.strip() for name in header], rows)


def read_xlsx(path: str | Path, *, progress: Progress = _no_progress) -> Table:
    from openpyxl import load_workbook

    _check_xlsx(Path(path))
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise _not_a_workbook(exc) from None
    try:
        sheet = workbook.worksheets[0]
        expected = sheet.max_row or 0  # as the sheet declares it
        iterator: Iterator = sheet.iter_rows(values_only=True)
        try:
            header = [str(value).strip() if value is not None else "" for value in next(iterator)]
        except StopIteration:
            raise ReadError(_("The first sheet is empty.")) from None
        limit = max_rows()
        rows = []
        for number, values in enumerate(iterator, start=2):
            cells = ["" if value is None else value for value in values]
            if any(str(cell).strip() for cell in cells):
                rows.append((number, cells))
                if len(rows) > limit:
                    raise too_many_rows_error()
            if number % PROGRESS_EVERY == 0:
                progress(number, expected)
    finally:
        workbook.close()
    return Table(header, rows)


def read_table(path: str | Path, *, progress: Progress = _no_progress) -> Table:
    """The file's first sheet (XLSX) or its text (CSV) as a table; ReadError when it is none, or over the limits."""
    path = Path(path)
    if path.stat().st_size > max_bytes():
        raise too_large_error()
    with path.open("rb") as file:
        is_xlsx = file.read(len(XLSX_MAGIC)) == XLSX_MAGIC
    if is_xlsx:
        return read_xlsx(path, progress=progress)  # checks the zip's declared sizes first
    return read_csv(path.read_bytes(), progress=progress)


# Excel counts days from 1899-12-30 (its 1900 leap-year bug included).
EXCEL_EPOCH = dt.date(1899, 12, 30)


def excel_serial_date(value: float) -> dt.date:
    return EXCEL_EPOCH + dt.timedelta(days=int(value))
