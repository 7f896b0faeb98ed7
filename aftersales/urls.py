from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from aftersales import views
from aftersales.dashboard import views as dashboard_views
from aftersales.myday import views as myday_views
from aftersales.risk import views as risk_views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    # The reset mail gets an HTML part too (readable in the dev mailbox); the rest is Django's.
    path(
        "accounts/password_reset/",
        auth_views.PasswordResetView.as_view(html_email_template_name="registration/password_reset_email_html.html"),
        name="password_reset",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
    path("dev/mailbox/", include("aftersales.mail.urls")),
    path("my-day/", myday_views.my_day, name="my_day"),
    path("dashboard/", dashboard_views.dashboard, name="dashboard"),
    path("customers/", include("aftersales.customer_urls")),
    path("risk/", include("aftersales.risk.urls")),
    path("reps/<int:rep_pk>/scorecard/", risk_views.rep_scorecard_view, name="rep_scorecard"),
    path("", include("touchpoints.urls")),
    path("feedback/", include("feedback.urls")),
    path("api/", include("aftersales.api.urls")),
    path("admin/", admin.site.urls),
]
