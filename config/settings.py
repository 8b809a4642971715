"""Settings, all from the environment (django-environ).

With no environment at all the project runs on embedded defaults: a SQLite file, Celery eager on a
``memory://`` broker, a local-memory cache and the console email backend. ``DATABASE_URL``,
``CELERY_BROKER_URL``, ``CACHE_URL`` and ``EMAIL_URL`` switch to PostgreSQL, Redis, a real worker and SMTP.
With ``DJANGO_DEBUG=false`` (production) there are no default secrets: ``SECRET_KEY`` must be set.
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("CONTESTABLE_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()

DEBUG = env.bool("DJANGO_DEBUG", default=True)
if DEBUG:
    SECRET_KEY = env.str("SECRET_KEY", default="dev-only-insecure-key-never-use-in-production")
else:
    SECRET_KEY = env.str("SECRET_KEY")  # no default in production

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    # The house, lowest floor first: apps depend downward only.
    "core",
    "notifications",
    "decisions",
    "appeals",
    "oversight",
    "portal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # S33: auditors read everything and change nothing (every unsafe request of theirs is refused).
    "oversight.middleware.AuditorReadOnlyMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "django.template.context_processors.i18n",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the dev server and eager tasks share the file without "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "core.User"

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://contestable")}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/review/"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# The zone deadlines are expressed in when a system does not set its own.
CONTESTABLE_DEFAULT_TIME_ZONE = env.str("CONTESTABLE_DEFAULT_TIME_ZONE", default="Europe/Brussels")

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# Evidence and other uploads live outside the web root and are served only through views that check access.
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "private")))

# Email: console by default, SMTP (or anything django-environ understands) from EMAIL_URL.
if "EMAIL_URL" in env:
    vars().update(env.email("EMAIL_URL"))
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Contestable <notices@contestable.invalid>")

# Celery: eager on an in-memory broker unless a broker is configured.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="memory://")
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=CELERY_BROKER_URL == "memory://")
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True  # a worker that dies mid-task leaves the message for another worker
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TIMEZONE = "UTC"
# A static beat schedule (no django-celery-beat). Apps add their periodic tasks here.
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "prune-idempotency-keys": {"task": "core.tasks.prune_idempotency_keys", "schedule": crontab(minute=17)},
    "seal-audit": {"task": "core.tasks.seal_audit", "schedule": 60.0},
    # Documents a person uploaded in a journey they never sent are deleted after PORTAL_UPLOAD_HOURS.
    "portal-purge-uploads": {"task": "portal.tasks.purge_uploads", "schedule": crontab(minute=23)},
    # S15: re-queue notices and webhook messages that are due or stuck (a lost message delays, never drops).
    "sweep-outbox": {"task": "notifications.tasks.sweep_outbox", "schedule": 60.0},
    # S11: adverse decisions whose notice period has run out take effect.
    "decisions-effective": {"task": "decisions.tasks.make_due_decisions_effective", "schedule": 300.0},
    # Issue 6: figure rollups of the last days every 5 minutes; hourly, every period a notice clock reaches.
    "oversight-figures-recent": {"task": "oversight.tasks.refresh_recent_figures", "schedule": 300.0},
    "oversight-figures-settle": {"task": "oversight.tasks.settle_figures", "schedule": crontab(minute=41)},
    # S25: overdue appeals escalate (supervisors told, the person gets a delay notice); idle claims lapse;
    # unanswered questions to the person time out and the review goes on.
    "appeals-escalate-overdue": {
        "task": "appeals.tasks.escalate_overdue_appeals",
        "schedule": crontab(minute="*/15"),
    },
    "appeals-release-lapsed-claims": {"task": "appeals.tasks.release_lapsed_claims", "schedule": 60.0},
    # Open appeals on decisions an integrator superseded meanwhile are closed, and the person told.
    "appeals-close-replaced": {
        "task": "appeals.tasks.close_appeals_on_replaced_decisions",
        "schedule": 300.0,
    },
    "appeals-expire-information-requests": {
        "task": "appeals.tasks.expire_information_requests",
        "schedule": crontab(minute="*/15"),
    },
    # S29: the stop switch of every live system (also evaluated after each appeal outcome); S30: remedy
    # campaigns whose processing message was lost; S33: personal data past retention erased nightly.
    "oversight-stop-switch": {"task": "oversight.controls_tasks.stop_switch_sweep", "schedule": 300.0},
    "oversight-remedy-resume": {
        "task": "oversight.controls_tasks.remedy_campaigns_resume",
        "schedule": 900.0,
    },
    "oversight-retention-sweep": {
        "task": "oversight.controls_tasks.retention_sweep",
        "schedule": crontab(hour=3, minute=23),
    },
}
# The stop switch's rolling window (S29): appeals decided in the last this many days count.
OVERSIGHT_STOP_SWITCH_WINDOW_DAYS = env.int("OVERSIGHT_STOP_SWITCH_WINDOW_DAYS", default=90)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.api.auth.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.errors.problem_exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_THROTTLE_CLASSES": ["core.api.auth.ApiClientRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_client": "6000/min", "anon": "60/min"},
}

SPECTACULAR_SETTINGS = {
    # Appeals and decisions both have a "status"; name their enums apart in the schema.
    "ENUM_NAME_OVERRIDES": {
        "AppealStatusEnum": "appeals.models.STATE_CHOICES",
        "AppealStateEnum": "appeals.workflow.STATE_VALUES",
        "DecisionStatusEnum": "decisions.models.Decision.Status",
    },
    "TITLE": "Contestable API",
    "DESCRIPTION": (
        "Record automated decisions with their explanations, and follow the due process that contests them. "
        "Errors are RFC 9457 problem details (application/problem+json). Every POST takes an "
        "Idempotency-Key header."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Idempotency keys are kept this long, then pruned.
IDEMPOTENCY_KEY_TTL = timedelta(hours=24)

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
