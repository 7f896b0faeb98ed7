from django.contrib import admin
from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("dev/mailbox/", include("aftersales.mailbox_urls")),
    path("customers/", include("customers.urls")),
    path("", include("touchpoints.urls")),
    path("feedback/", include("feedback.urls")),
    path("admin/", admin.site.urls),
]
