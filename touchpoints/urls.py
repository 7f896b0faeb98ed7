from django.urls import path

from touchpoints import careplan_views, log_views, plan_views

urlpatterns = [
    path("touchpoints/<int:pk>/", log_views.touchpoint_row, name="touchpoint_row"),
    path("touchpoints/<int:pk>/log/", log_views.touchpoint_log, name="touchpoint_log"),
    path("touchpoints/<int:pk>/reschedule/", log_views.touchpoint_reschedule_view, name="touchpoint_reschedule"),
    path("touchpoints/<int:pk>/cancel/", log_views.touchpoint_cancel_view, name="touchpoint_cancel"),
    path("contacts/new/<int:customer_pk>/", log_views.touchpoint_log_contact, name="touchpoint_log_contact"),
    path("plans/", plan_views.plan_list, name="plan_list"),
    path("plans/new/", plan_views.plan_create, name="plan_create"),
    path("plans/<int:pk>/", plan_views.plan_edit, name="plan_edit"),
    path("care-plan/<str:token>/", careplan_views.careplan_page, name="careplan"),
]
