"""/api/: the REST API, its OpenAPI schema and its docs (Swagger UI and Redoc served locally, no CDN)."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.authtoken.views import obtain_auth_token
from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter()
router.register("customers", views.CustomerViewSet, basename="customer")
router.register("purchases", views.PurchaseViewSet, basename="purchase")
router.register("touchpoints", views.TouchPointViewSet, basename="touchpoint")
router.register("survey-answers", views.SurveyAnswerViewSet, basename="surveyanswer")
router.register("flags", views.RiskFlagViewSet, basename="riskflag")
router.register("webhooks", views.WebhookViewSet, basename="webhook")

app_name = "api"
urlpatterns = [
    path("", include(router.urls)),
    path("token/", obtain_auth_token, name="token"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api:schema"), name="redoc"),
]
