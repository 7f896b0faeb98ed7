"""The at-risk pages, mounted at /risk/ (the URL contract is in aftersales/risk/views.py)."""

from django.urls import path

from aftersales.risk import views as risk_views

app_name = "risk"
urlpatterns = [
    path("", risk_views.risk_list, name="list"),
    path("export.csv", risk_views.risk_export, name="export"),
    path("reassign/", risk_views.risk_reassign, name="reassign"),
    path("flags/<int:flag_pk>/snooze/", risk_views.riskflag_snooze_view, name="snooze"),
    path("flags/<int:flag_pk>/resolve/", risk_views.riskflag_resolve_view, name="resolve"),
    path("weights/", risk_views.health_weights_view, name="weights"),
]
