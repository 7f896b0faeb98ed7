from django.apps import AppConfig


class DashboardConfig(AppConfig):
    """Its own app (label ``dashboard``) so its rollup table has its own migrations."""

    name = "aftersales.dashboard"
    label = "dashboard"
    verbose_name = "Dashboard"
    default_auto_field = "django.db.models.BigAutoField"
