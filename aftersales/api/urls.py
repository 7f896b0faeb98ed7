"""/api/: the REST API, its OpenAPI schema and its docs (Swagger UI and Redoc served locally, no CDN)."""

from csp.constants import NONCE
from csp.decorators import csp_update
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.routers import DefaultRouter
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle

from aftersales.api import views

# DRF's token view names its own parsers: it gets the bounded JSON parser the rest of the API uses.
PARSERS = api_settings.DEFAULT_PARSER_CLASSES

router = DefaultRouter()
router.register("customers", views.CustomerViewSet, basename="customer")
router.register("purchases", views.PurchaseViewSet, basename="purchase")
router.register("touchpoints", views.TouchPointViewSet, basename="touchpoint")
router.register("survey-answers", views.SurveyAnswerViewSet, basename="surveyanswer")
router.register("flags", views.RiskFlagViewSet, basename="riskflag")
router.register("webhooks", views.WebhookViewSet, basename="webhook")

# What Redoc needs beyond the strict policy of settings.py, on its page only:
# - the <style> elements its styled-components write, allowed by the request's nonce, which
#   templates/api/redoc.html hands to Redoc (static/js/redoc-init.js);
# - one <style> its bundle injects while loading, before it can know a nonce: perfect-scrollbar's
#   CSS, allowed by hash (the empty element first, then its text). A new drf-spectacular-sidecar
#   may change that CSS: tests/browser/test_browser_csp.py then fails naming the new hash to put here;
# - its search index runs in a Web Worker made from a blob: URL;
# - the side menu's "API docs by Redocly" logo, the one file it loads from elsewhere.
REDOC_CSP = {
    "style-src-elem": [
        NONCE,
        "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",
        "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc='",
    ],
    "worker-src": ["blob:"],
    "img-src": ["https://cdn.redoc.ly/redoc/logo-mini.svg"],
}

app_name = "api"
urlpatterns = [
    path("", include(router.urls)),
    # DRF's token view opts out of throttling; a password-guessing endpoint must not (rate "anon").
    path("token/", ObtainAuthToken.as_view(throttle_classes=[AnonRateThrottle], parser_classes=PARSERS), name="token"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up code as a script file: no inline script under the CSP.
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api:schema", template_name="api/swagger_ui.html"),
        name="docs",
    ),
    path(
        "redoc/",
        csp_update(REDOC_CSP)(SpectacularRedocView.as_view(url_name="api:schema", template_name="api/redoc.html")),
        name="redoc",
    ),
]
