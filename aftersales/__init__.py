"""Aftersales: the after-sale half of a CRM."""

from aftersales.celery import app as celery_app

__all__ = ("celery_app",)
