"""Retention: what the app keeps only for a while is deleted by a periodic job (services.py, tasks.py)."""
