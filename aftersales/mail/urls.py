from django.urls import path

from aftersales.mail import views as mailbox_views

app_name = "mailbox"
urlpatterns = [
    path("", mailbox_views.mailbox_list, name="list"),
    path("clear/", mailbox_views.mailbox_clear, name="clear"),
    path("<int:pk>/", mailbox_views.mailbox_detail, name="detail"),
    path("<int:pk>/html/", mailbox_views.mailbox_html, name="html"),
]
