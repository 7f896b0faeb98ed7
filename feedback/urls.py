from django.urls import path

from feedback import staff_views, views

app_name = "feedback"
urlpatterns = [
    # Public: the token in the URL is the access right.
    path("s/<str:token>/", views.survey_page, name="survey"),
    path("s/<str:token>/thanks/", views.thanks_page, name="thanks"),
    path("u/<str:token>/", views.unsubscribe_page, name="unsubscribe"),
    # Staff.
    path("customers/<int:customer_pk>/resubscribe/", staff_views.resubscribe, name="resubscribe"),
    path("response-rates/", staff_views.response_rates, name="response_rates"),
]
