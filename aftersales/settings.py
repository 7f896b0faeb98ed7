"""Django settings for Aftersales.

Everything that differs between one laptop and production comes from the
environment (see README's table). With nothing set, the app runs on embedded
defaults: SQLite in WAL mode, Celery's filesystem broker under ``var/`` and a
dev mailbox kept in the database.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import phonenumbers
from csp.constants import NONCE
from django.core.exceptions import ImproperlyConfigured

from aftersales.core.env import dev_secret_key, env_bool, env_db, env_email, env_int, env_list, env_str
from aftersales.defaults import aftersales_defaults

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)


def _secret_key() -> str:
    key = env_str("SECRET_KEY", "")
    if key:
        if not DEBUG and (len(key) < 32 or key.startswith("django-insecure")):
            raise ImproperlyConfigured("SECRET_KEY is too short or a default value; use 50 random characters.")
        return key
    if not DEBUG:
        raise ImproperlyConfigured("Set SECRET_KEY (or DEBUG=true for a local dev key kept in var/).")
    # Local development only (manage.py hands the same key to commands run by hand).
    return dev_secret_key(VAR_DIR)


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    # django.contrib.admin, whose default site guards against hand-made requests (aftersales/core/admin_site.py).
    "aftersales.core.admin_site.AdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_htmx",
    "bootstrap",  # django-bootstrap-static: Bootstrap's CSS/JS as static files
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI / Redoc served as static files, no CDN
    "axes",  # login lockout (aftersales/core/security.py)
    "csp",  # Content-Security-Policy header (CONTENT_SECURITY_POLICY below)
    "aftersales",
    "customers",
    "touchpoints",
    "feedback",
    "aftersales.dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # A %00 in the address is a 400 before any view runs (PostgreSQL cannot compare it).
    "aftersales.core.middleware.QueryInputsMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes requires: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "aftersales.urls"
WSGI_APPLICATION = "aftersales.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "aftersales.context_processors.roles",
                "aftersales.context_processors.my_day_counts",
                "aftersales.context_processors.csp_nonce",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------
DATABASES = {"default": env_db("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets the web process read while the worker writes; IMMEDIATE
        # transactions take the write lock up front instead of failing late.
        "init_command": "PRAGMA journal_mode=wal; PRAGMA synchronous=normal; PRAGMA busy_timeout=5000;",
        "transaction_mode": "IMMEDIATE",
    }
    # Celery workers in the test suite must see the test database: use a file.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env_int("CONN_MAX_AGE", 60, minimum=0))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth ---------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# Sessions end after SESSION_COOKIE_AGE (a working day) and when the browser closes. No sliding
# idle timeout: it would need SESSION_SAVE_EVERY_REQUEST, a database write on every page view.
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 60 * 60 * 12, minimum=300)
SESSION_EXPIRE_AT_BROWSER_CLOSE = env_bool("SESSION_EXPIRE_AT_BROWSER_CLOSE", True)
# django-axes locks the *account* (not the IP: a whole office shares one) after AXES_FAILURE_LIMIT
# wrong passwords in a row; it unlocks by itself after AXES_COOLOFF_MINUTES, or at once when a
# manager deletes its "access attempt" in the admin or runs `manage.py axes_reset_username NAME`.
AUTHENTICATION_BACKENDS = [
    "aftersales.core.security.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 10, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 60, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["username"]
# axes.W006 wants the IP in the lockout too; we lock accounts on purpose: a sales office behind one
# NAT address (or a proxy count set wrong) would otherwise lock every colleague out together.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# The same client address as the public rate limits (only trusted proxies' X-Forwarded-For).
AXES_CLIENT_IP_CALLABLE = "aftersales.core.security.lockout_client_ip"
AXES_USERNAME_CALLABLE = "aftersales.core.security.lockout_username"
AXES_VERBOSE = False

# --- I18N ---------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("es", "Español"), ("ru", "Русский")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True
# Customers' phone numbers are stored in E.164 (customers/phones.py). A number typed without + and its
# country code is read as this country's (ISO 3166 code, e.g. ES); empty: every number needs the +.
PHONE_DEFAULT_REGION = env_str("PHONE_DEFAULT_REGION", "").upper() or None
if PHONE_DEFAULT_REGION is not None and PHONE_DEFAULT_REGION not in phonenumbers.SUPPORTED_REGIONS:
    raise ImproperlyConfigured(f"PHONE_DEFAULT_REGION={PHONE_DEFAULT_REGION!r} is not a country code such as ES or US.")

# --- Static files ---------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on a missing root before collectstatic
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# --- Email ----------------------------------------------------------------
# EMAIL_URL (smtp://user:pass@host:587/?tls=True) or the EMAIL_* variables
# configure SMTP; with neither, mail lands in the dev mailbox (/dev/mailbox/).
_email = env_email("EMAIL_URL")
if _email:
    EMAIL_BACKEND = _email.pop("EMAIL_BACKEND")
    globals().update(_email)
elif env_str("EMAIL_HOST", ""):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = env_str("EMAIL_HOST")
    EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
    EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
else:
    EMAIL_BACKEND = "aftersales.mail.mailbox.DevMailboxBackend"
EMAIL_BACKEND = env_str("EMAIL_BACKEND", EMAIL_BACKEND)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Aftersales <aftersales@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Domain used in stable Message-IDs of outbox mail.
EMAIL_MESSAGE_ID_DOMAIN = env_str("EMAIL_MESSAGE_ID_DOMAIN", "aftersales.local")
DEV_MAILBOX_ENABLED = EMAIL_BACKEND == "aftersales.mail.mailbox.DevMailboxBackend"

# --- Celery ---------------------------------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://localhost//")  # a host keeps kombu from warning
# Where tasks are queued (and, by default, what workers consume): two installations
# sharing one Redis keep apart with two names. Tests' workers use their own.
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_TASK_DEFAULT_QUEUE", "celery")
# Late acks: a task is redelivered if its worker dies, so the visibility
# timeout (Redis) must outlast the hard time limit, or a running task would
# be handed to a second worker while the first is still on it.
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 240, minimum=1)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300, minimum=1)
CELERY_VISIBILITY_TIMEOUT = max(env_int("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=1), 2 * CELERY_TASK_TIME_LIMIT)
if CELERY_TASK_SOFT_TIME_LIMIT >= CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured("CELERY_TASK_SOFT_TIME_LIMIT must be shorter than CELERY_TASK_TIME_LIMIT.")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = VAR_DIR / "celery" / "queue"
    _processed_dir = VAR_DIR / "celery" / "processed"
    _control_dir = VAR_DIR / "celery" / "control"
    for _d in (_queue_dir, _processed_dir, _control_dir):
        _d.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(_processed_dir),
        "control_folder": str(_control_dir),
        "store_processed": False,
    }
else:
    # One visibility timeout for broker and results: longer than any task's
    # hard time limit, so a late-acked task is not redelivered while it runs.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", "") or None
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_MAX_MEMORY_PER_CHILD = env_int("CELERY_WORKER_MAX_MEMORY_PER_CHILD", 200_000, minimum=10_000)  # KiB
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# One beat only: the scheduler takes a lock (Redis on a Redis broker, a file
# lock under VAR_DIR otherwise) and a second beat refuses to start.
CELERY_BEAT_SCHEDULER = "aftersales.beat:LockedScheduler"
BEAT_LOCK_TTL_SECONDS = env_int("BEAT_LOCK_TTL_SECONDS", 60, minimum=4)
# The lock's name (Redis key, lock file name): only tests change it, to stay clear of a dev beat.
BEAT_LOCK_NAME = env_str("BEAT_LOCK_NAME", "aftersales-beat")

# --- Caches ---------------------------------------------------------------
CACHE_URL = env_str("CACHE_URL", "")
if CACHE_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Security ---------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Production runs behind a TLS-terminating proxy (README): it sets X-Forwarded-Proto, Django
# redirects plain HTTP, cookies are HTTPS-only and browsers remember HTTPS (HSTS) for a year.
# `manage.py check --deploy --fail-level WARNING` is clean with DEBUG=false and this on (.ci/run).
if env_bool("BEHIND_HTTPS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    # /healthz is probed over plain HTTP by the load balancer and the container runtime.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# Content-Security-Policy (django-csp 4): scripts only from our own static files, plus a
# per-request nonce for any inline script (context variable ``csp_nonce``, read by django-htmx's
# {% htmx_script %}). htmx runs without eval and without injecting its indicator <style>
# (templates/base.html's htmx-config meta tag). Style *elements* are ours only; style
# *attributes* stay allowed because the care-plan and survey pages share their markup with
# the emails, which need inline styles for mail clients (and a few pages size bars and legend
# swatches from data): an attribute can restyle a page but cannot run script. The dev mailbox's HTML view sends its
# own stricter policy (aftersales/mail/views.py), which the middleware leaves alone; /api/redoc/
# adds only what Redoc needs, on that page (REDOC_CSP in aftersales/api/urls.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", NONCE],
        "style-src": ["'self'"],
        "style-src-elem": ["'self'"],
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-src": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# --- Domain defaults (DESIGN.md numbers; all overridable): aftersales/defaults.py ---
AFTERSALES = aftersales_defaults()

# The REST API (aftersales/api/): per-user tokens, the same row scoping as the pages.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "aftersales.api.filters.Pagination",
    # JSON bodies with a nesting limit (a deep body is a 400, never a RecursionError).
    "DEFAULT_PARSER_CLASSES": [
        "aftersales.api.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    # Every 400 is {"field": ["message", …]} (docs/API.md).
    "EXCEPTION_HANDLER": "aftersales.api.exceptions.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Per user (token or session) and, for the token endpoint, per client IP; counted in the
    # default cache, so CACHE_URL=redis://… shares the counts between gunicorn workers.
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_str("API_RATE_ANON", "30/minute"),
        "user": env_str("API_RATE_USER", "600/minute"),
    },
    # The client IP for "anon": as the public rate limits see it. DRF's default (None) would
    # trust the whole X-Forwarded-For header, so a client could pick a new "IP" per request.
    "NUM_PROXIES": env_int("TRUSTED_PROXY_COUNT", 0, minimum=0),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Aftersales API",
    "DESCRIPTION": "Customers, purchases, check-ups, survey answers and risk flags, scoped to the token's user.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {"WebhookEventEnum": "aftersales.webhooks.models.WebhookEvent"},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {"client_error_without_traceback": {"()": "aftersales.core.logfilters.ClientErrorWithoutTraceback"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's default config gives "django" its own console handler (when DEBUG) and
        # mail_admins (no ADMINS here): with the root's console, every record printed twice.
        # Its records go to the root's handler only.
        "django": {"handlers": [], "level": "INFO"},
        # A 403 or 404 is one line ("Forbidden (Permission denied): /path"), not a traceback.
        "django.request": {"filters": ["client_error_without_traceback"]},
        "django.db.backends": {"level": "WARNING"},
        # axes logs every login at INFO; failures and lockouts are WARNING.
        "axes": {"level": "WARNING"},
    },
}
