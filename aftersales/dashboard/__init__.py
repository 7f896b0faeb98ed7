"""The managers' dashboard: trend charts computed in SQL, kept as a rollup a job refreshes.

selectors.py reads (one query per chart), rollups.py writes the snapshot the
page shows ("as of 10:05"), charts.py turns numbers into SVG geometry, views.py
serves the page.
"""
