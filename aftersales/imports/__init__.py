"""Importing customers and their purchases from a spreadsheet (CSV or XLSX).

The steps, each its own module (:mod:`.jobs` runs them for the pages, in workers):

* :mod:`.reading` turns a file into a header and rows, whatever Excel did to
  it (its encoding, ``;`` delimiters, quoted newlines, serial dates), and
  refuses one over the limits before reading it;
* :mod:`.mapping` guesses which column is which field, the manager corrects;
* :mod:`.validation` checks every row and lists every problem by row and
  column *before* anything is written (the preview);
* :mod:`.commit` writes everything or nothing, idempotent by external_ref,
  scheduling new purchases' check-ups with the same planning rules as the form.
"""
