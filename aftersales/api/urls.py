"""/api/: the REST API, its OpenAPI schema and its docs (Swagger UI and Redoc served locally, no CDN)."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.routers import DefaultRouter
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle

from . import views

# DRF's token view names its own parsers: it gets the bounded JSON parser the rest of the API uses.
PARSERS = api_settings.DEFAULT_PARSER_CLASSES

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
    # DRF's token view opts out of throttling; a password-guessing endpoint must not (rate "anon").
    path("token/", ObtainAuthToken.as_view(throttle_classes=[AnonRateThrottle], parser_classes=PARSERS), name="token"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up code as a script file: no inline script under the CSP.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api:schema"), name="redoc"),
]
