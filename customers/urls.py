from django.urls import path

from . import purchase_views, views

app_name = "customers"
urlpatterns = [
    path("", views.customer_list, name="list"),
    path("<int:pk>/", views.customer_detail, name="detail"),
    path("<int:pk>/purchases/new/", purchase_views.purchase_create, name="purchase_create"),
]
