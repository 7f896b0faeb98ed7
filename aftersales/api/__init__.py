"""The REST API (/api/): the same data and the same row scoping as the pages, for shops, ERPs and scripts."""
