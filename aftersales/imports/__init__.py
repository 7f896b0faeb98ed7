"""Importing customers and their purchases from a spreadsheet (CSV or XLSX).

Three steps, each its own module:

* :mod:`.reading` turns a file into a header and rows, whatever Excel did to
  it (a BOM, ``;`` delimiters, quoted newlines, serial dates);
* :mod:`.mapping` guesses which column is which field, the manager corrects;
* :mod:`.validation` checks every row and lists every problem by row and
  column *before* anything is written (the preview);
* :mod:`.commit` writes everything or nothing, idempotent by external_ref,
  scheduling new purchases' check-ups with the same planning rules as the form.
"""
