# The survey pages (public, token links) arrive with the surveys issue.
app_name = "feedback"
urlpatterns: list = []
