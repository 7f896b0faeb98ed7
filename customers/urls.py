from django.urls import path

from . import import_views, purchase_views, views

app_name = "customers"
urlpatterns = [
    path("", views.customer_list, name="list"),
    path("<int:pk>/", views.customer_detail, name="detail"),
    path("<int:pk>/purchases/new/", purchase_views.purchase_create, name="purchase_create"),
    path("import/", import_views.import_upload, name="import_upload"),
    path("import/<int:pk>/", import_views.import_detail, name="import_detail"),
    path("import/<int:pk>/commit/", import_views.import_commit, name="import_commit"),
    path("import/<int:pk>/progress/", import_views.import_progress, name="import_progress"),
]
