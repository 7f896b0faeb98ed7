from django.urls import path

from . import views

urlpatterns = [
    path("my-day/", views.my_day, name="my_day"),
    path("dashboard/", views.dashboard, name="dashboard"),
]
