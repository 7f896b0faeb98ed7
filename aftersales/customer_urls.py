from django.urls import path

from aftersales.customer_pages import edit_views, views
from aftersales.gdpr import views as gdpr_views
from aftersales.imports import views as import_views
from aftersales.risk import views as risk_views
from touchpoints import purchase_views

app_name = "customers"
urlpatterns = [
    path("", views.customer_list, name="list"),
    path("export.csv", risk_views.customer_export, name="export"),
    path("new/", edit_views.customer_new, name="create"),
    path("<int:pk>/", views.customer_detail, name="detail"),
    path("<int:pk>/edit/", edit_views.customer_edit_page, name="edit"),
    path("<int:pk>/merge/", edit_views.customer_merge_page, name="merge"),
    path("<int:pk>/purchases/new/", purchase_views.purchase_create, name="purchase_create"),
    path("<int:pk>/gdpr/export/", gdpr_views.gdpr_export, name="gdpr_export"),
    path("<int:pk>/gdpr/erase/", gdpr_views.gdpr_erase, name="gdpr_erase"),
    path("import/", import_views.import_upload, name="import_upload"),
    path("import/<int:pk>/", import_views.import_detail, name="import_detail"),
    path("import/<int:pk>/commit/", import_views.import_commit, name="import_commit"),
    path("import/<int:pk>/progress/", import_views.import_progress, name="import_progress"),
    path("import/<int:pk>/retry/", import_views.import_retry, name="import_retry"),
]
