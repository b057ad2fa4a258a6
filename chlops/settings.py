"""Settings, read from the environment in this one place (DESIGN §6)."""

from __future__ import annotations

import ipaddress
import os
import secrets
import tempfile
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def env_networks(name: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Parse a comma-separated list of IP addresses and CIDR networks, failing at start on a typo."""
    networks = []
    for item in env_list(name, ""):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"{name}: {item!r} is not an IP address or CIDR network; write e.g. 10.0.0.5,10.1.0.0/16."
            ) from None
    return networks


def read_or_create_secret(path: Path, make) -> str:
    """Return the secret stored at path, creating it once (mode 0600) if absent."""
    if path.exists():
        return path.read_text().strip()
    value = make()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".secret-")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(value)
        # link() fails if another process won the race; theirs is then the secret.
        os.link(tmp, path)
    except FileExistsError:
        value = path.read_text().strip()
    finally:
        os.unlink(tmp)
    return value


# --- Environment and data dir -------------------------------------------------------------

ENV = os.environ.get("CHLOPS_ENV", "development")
PRODUCTION = ENV == "production"
DEBUG = env_bool("CHLOPS_DEBUG")
DATA_DIR = Path(os.environ.get("CHLOPS_DATA_DIR") or BASE_DIR / "var").resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True, mode=0o700)
IMPORT_DIR = Path(os.environ.get("CHLOPS_IMPORT_DIR") or DATA_DIR / "imports").resolve()
EXPORT_DIR = Path(os.environ.get("CHLOPS_EXPORT_DIR") or DATA_DIR / "exports").resolve()
UPLOAD_DIR = DATA_DIR / "uploads"

# Generated once into the data dir when not set: fine on a laptop, a diagnostic in production.
SECRET_KEY_GENERATED = not os.environ.get("CHLOPS_SECRET_KEY")
SECRET_KEY = os.environ.get("CHLOPS_SECRET_KEY") or read_or_create_secret(
    DATA_DIR / "secret-key", lambda: secrets.token_urlsafe(50)
)
ALLOWED_HOSTS = env_list("CHLOPS_ALLOWED_HOSTS", "localhost,127.0.0.1")

# --- Applications -------------------------------------------------------------------------

INSTALLED_APPS = [
    "daphne",
    "chlops.apps.ChlopsAdminConfig",
    "chlops.apps.ChlopsConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "django_htmx",
    "template_partials",
    "rest_framework",
    "django_celery_results",
    "django_celery_beat",
    "axes",
    "audit",
    "operations",
    "monitoring",
    "indexes",
    "alerts",  # after the others: it puts a banner on every ops page the apps before it registered
    "diagnostics",  # last, for the same reason: the settings diagnostics' banners
]

MIDDLEWARE = [
    "monitoring.collectors.requests.RequestMetricsMiddleware",  # first: it times all the others too
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "audit.middleware.AuditContextMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as axes asks: it turns a lockout into the response
]

ROOT_URLCONF = "chlops.urls"
ASGI_APPLICATION = "chlops.asgi.application"
WSGI_APPLICATION = None

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
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------

if os.environ.get("DATABASE_URL"):
    # Connections kept for a minute (checked before reuse): each trip of a websocket or a push to the
    # database thread would otherwise open a new one, ~10 ms each on PostgreSQL, 500 sockets at a time.
    DATABASES = {
        "default": dj_database_url.parse(
            os.environ["DATABASE_URL"], conn_max_age=env_int("CHLOPS_DB_CONN_MAX_AGE", 60), conn_health_checks=True
        )
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "chlops.sqlite3",
        }
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run beside the one writer; IMMEDIATE takes the write lock at BEGIN so
    # concurrent writers queue on the busy timeout instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not memory, so that the workers and servers the tests start share it.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: broker, channel layer, cache --------------------------------------------------

REDIS_SOCKET = DATA_DIR / "redis.sock"
REDIS_EMBEDDED = not os.environ.get("REDIS_URL")
REDIS_URL = os.environ.get("REDIS_URL") or f"unix://{REDIS_SOCKET}"

# The layer's blocking pop waits 5 s: reads may take longer than that (chlops.channel_layer). Each
# process's pool is bounded; a burst of sockets opening or closing waits for a free connection.
CHLOPS_CHANNEL_LAYER_POOL = env_int("CHLOPS_CHANNEL_LAYER_POOL", 50)
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "chlops.channel_layer.RedisChannelLayer",
        "CONFIG": {
            "hosts": [
                {
                    "address": REDIS_URL,
                    "max_connections": CHLOPS_CHANNEL_LAYER_POOL,
                    "timeout": 10,  # seconds to wait for a free connection of the pool
                    "socket_timeout": 15,
                    "socket_connect_timeout": 2,
                    "health_check_interval": 30,
                }
            ],
            "prefix": "chlops:asgi",
            "capacity": 1000,
        },
    }
}
CACHES = {
    "default": {
        # Django's RedisCache, counting hits and misses; its clear() removes only its own keys (the
        # broker and the channel layer share this Redis and its db).
        "BACKEND": "monitoring.collectors.cache.InstrumentedRedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "chlops",
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
}

# --- Celery -------------------------------------------------------------------------------

CELERY_BROKER_URL = (
    "redis+socket://" + REDIS_URL.removeprefix("unix://") if REDIS_URL.startswith("unix://") else REDIS_URL
)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2, "socket_timeout": 5}
CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
CELERY_TASK_DEFAULT_QUEUE = "jobs"
CELERY_TASK_ROUTES = {
    "operations.tasks.reap_lost_jobs": {"queue": "control"},
    "monitoring.tasks.mark_offline_workers": {"queue": "control"},
    "monitoring.tasks.health_round": {"queue": "control"},
    "indexes.tasks.embed_dispatch": {"queue": "control"},
    "indexes.tasks.embed_batch": {"queue": "embed"},
}
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_SERIALIZER = "json"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CHLOPS_HEALTH_INTERVAL = env_int("CHLOPS_HEALTH_INTERVAL", 10)  # seconds between health rounds (DESIGN §10)
CELERY_BEAT_SCHEDULE = {
    "mark-offline-workers": {
        "task": "monitoring.tasks.mark_offline_workers",
        "schedule": 5.0,
        "options": {"queue": "control", "expires": 10},
    },
    "reap-lost-jobs": {
        "task": "operations.tasks.reap_lost_jobs",
        "schedule": float(env_int("CHLOPS_REAPER_INTERVAL", 15)),
        "options": {"queue": "control"},
    },
    # The 13 modules' health checks (DESIGN §10); a round that waited longer than one interval is dropped.
    "health-round": {
        "task": "monitoring.tasks.health_round",
        "schedule": float(CHLOPS_HEALTH_INTERVAL),
        "options": {"queue": "control", "expires": float(CHLOPS_HEALTH_INTERVAL)},
    },
    # Entries that become pending are queued by themselves: this sends them to `embed` in batches.
    "embed-dispatch": {
        "task": "indexes.tasks.embed_dispatch",
        "schedule": float(os.environ.get("CHLOPS_EMBED_DISPATCH_INTERVAL", "2")),
        "options": {"queue": "control", "expires": 10},
    },
}
CELERY_TIMEZONE = "UTC"

# --- Jobs ---------------------------------------------------------------------------------

CHLOPS_JOB_STALE_SECONDS = env_int("CHLOPS_JOB_STALE_SECONDS", 60)

# --- Workers ------------------------------------------------------------------------------

CHLOPS_WORKER_KIND = os.environ.get("CHLOPS_WORKER_KIND", "cloud")  # cloud | edge, shown on the workers card
CHLOPS_WORKER_HEARTBEAT_SECONDS = float(os.environ.get("CHLOPS_WORKER_HEARTBEAT_SECONDS", "5"))
CHLOPS_WORKER_OFFLINE_SECONDS = env_int("CHLOPS_WORKER_OFFLINE_SECONDS", 30)  # silent this long: offline

CHLOPS_PROGRESS_INTERVAL = 0.2  # seconds between throttled progress writes of one job
# For tests only: checkpoints park a job while a test holds it (operations/gates.py); off, it costs nothing.
CHLOPS_TEST_GATES = env_bool("CHLOPS_TEST_GATES")
CHLOPS_UPLOAD_MAX_BYTES = env_int("CHLOPS_UPLOAD_MAX_BYTES", 512 * 1024 * 1024)
CHLOPS_URL_IMPORT_MAX_BYTES = env_int("CHLOPS_URL_IMPORT_MAX_BYTES", 512 * 1024 * 1024)
CHLOPS_URL_IMPORT_TIMEOUT = env_int("CHLOPS_URL_IMPORT_TIMEOUT", 30)
CHLOPS_IMPORT_BATCH_SIZE = env_int("CHLOPS_IMPORT_BATCH_SIZE", 1000)

# --- Repository ingestion and sparse vectors ------------------------------------------------

CHLOPS_INGEST_ROOTS = env_list("CHLOPS_INGEST_ROOTS", "")  # local directories that may be ingested; none by default
CHLOPS_INGEST_TIMEOUT = env_int("CHLOPS_INGEST_TIMEOUT", 300)  # seconds a clone may take
CHLOPS_INGEST_MAX_BYTES = env_int("CHLOPS_INGEST_MAX_BYTES", 500 * 1024 * 1024)  # size of a clone on disk
CHLOPS_INGEST_MAX_FILE_BYTES = env_int("CHLOPS_INGEST_MAX_FILE_BYTES", 1024 * 1024)
CHLOPS_INGEST_MAX_FILES = env_int("CHLOPS_INGEST_MAX_FILES", 20_000)
CHLOPS_INGEST_TMP_DIR = os.environ.get("CHLOPS_INGEST_TMP_DIR", "")  # where clones go; the system temp dir when empty
CHLOPS_SPARSE_BATCH_SIZE = env_int("CHLOPS_SPARSE_BATCH_SIZE", 2000)
CHLOPS_ADMIN_PASSWORD = os.environ.get("CHLOPS_ADMIN_PASSWORD", "")

# --- Embeddings ---------------------------------------------------------------------------

CHLOPS_EMBEDDER = os.environ.get("CHLOPS_EMBEDDER", "hashing")  # hashing | minilm (requirements-ml.txt)
CHLOPS_EMBEDDING_DIMENSION = env_int("CHLOPS_EMBEDDING_DIMENSION", 384)  # hashing only; minilm is 384
CHLOPS_EMBED_BATCH_SIZE = env_int("CHLOPS_EMBED_BATCH_SIZE", 256)
CHLOPS_EMBED_MAX_CHARS = env_int("CHLOPS_EMBED_MAX_CHARS", 20_000)  # text beyond this is not embedded
CHLOPS_EMBED_MAX_IN_FLIGHT = env_int("CHLOPS_EMBED_MAX_IN_FLIGHT", 16)  # batches queued or running at once
CHLOPS_EMBED_CLAIM_SECONDS = env_int("CHLOPS_EMBED_CLAIM_SECONDS", 300)  # a lost batch is sent again after this

# --- FAISS index and search ---------------------------------------------------------------

INDEX_DIR = DATA_DIR / "index"
CHLOPS_INDEX_EXACT_MAX = env_int("CHLOPS_INDEX_EXACT_MAX", 50_000)  # up to this many vectors: exact Flat
CHLOPS_INDEX_APPROX = os.environ.get("CHLOPS_INDEX_APPROX", "pq")  # above it: pq (PQ fast-scan + exact re-rank) | hnsw | ivf
CHLOPS_INDEX_HNSW_M = env_int("CHLOPS_INDEX_HNSW_M", 32)
CHLOPS_INDEX_RECALL_TARGET = float(os.environ.get("CHLOPS_INDEX_RECALL_TARGET", "0.95"))
CHLOPS_INDEX_LOAD_CHUNK = env_int("CHLOPS_INDEX_LOAD_CHUNK", 5000)  # rows read from the database at a time
# A new index up to this size is loaded before the next search answers; a larger one in the background.
CHLOPS_INDEX_RELOAD_SYNC_MAX_BYTES = env_int("CHLOPS_INDEX_RELOAD_SYNC_MAX_BYTES", 64 * 1024 * 1024)
CHLOPS_SNAPSHOT_MAX_BYTES = env_int("CHLOPS_SNAPSHOT_MAX_BYTES", 512 * 1024 * 1024)  # an uploaded snapshot ZIP
CHLOPS_SNAPSHOT_MAX_UNPACKED_BYTES = env_int("CHLOPS_SNAPSHOT_MAX_UNPACKED_BYTES", 4 * 1024 * 1024 * 1024)
CHLOPS_SEARCH_LATENCY_KEEP = env_int("CHLOPS_SEARCH_LATENCY_KEEP", 1000)  # latest search latencies kept in Redis

# --- Monitoring (DESIGN §10) ----------------------------------------------------------------

CHLOPS_METRICS = env_bool("CHLOPS_METRICS", True)  # off: nothing is counted (the overhead benchmark's baseline)
CHLOPS_METRICS_FLUSH_SECONDS = float(os.environ.get("CHLOPS_METRICS_FLUSH_SECONDS", "1"))
# Off: no worker evaluates alert rules (`alerts evaluate` still does one pass).
CHLOPS_ALERTS_EVALUATOR = env_bool("CHLOPS_ALERTS_EVALUATOR", True)
CHLOPS_SLOW_QUERY_MS = float(os.environ.get("CHLOPS_SLOW_QUERY_MS", "100"))  # a query slower than this joins the slow query log

# --- Peers and credentials (DESIGN §12) ---------------------------------------------------

CREDENTIALS_DIR = DATA_DIR / "credentials"  # one file per secret, mode 0600; the database holds metadata only
IDENTITY_KEY_PATH = DATA_DIR / "signing-key.pem"  # this instance's Ed25519 key, generated once, mode 0600
CHLOPS_PEER_TIMEOUT = float(os.environ.get("CHLOPS_PEER_TIMEOUT", "5"))  # seconds for one call to a peer
CHLOPS_PEER_MAX_SKEW_SECONDS = env_int("CHLOPS_PEER_MAX_SKEW_SECONDS", 60)

# --- Auth, sessions, security -------------------------------------------------------------

LOGIN_URL = "/admin/login/"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Login protection (django-axes), counted in the database so every process and host sees the same
# failures. Two limits, never one for everybody: a username at one address is locked after
# CHLOPS_LOGIN_FAILURE_LIMIT failures (a colleague behind the same NAT still signs in, and an
# attacker elsewhere cannot lock the account's owner out), and an address that tries many usernames
# is locked for all of them after CHLOPS_LOGIN_ADDRESS_FAILURE_LIMIT (chlops.lockout counts both).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out sign-in before any password is checked
    "django.contrib.auth.backends.ModelBackend",
]
CHLOPS_LOGIN_FAILURE_LIMIT = env_int("CHLOPS_LOGIN_FAILURE_LIMIT", 10)
CHLOPS_LOGIN_ADDRESS_FAILURE_LIMIT = env_int("CHLOPS_LOGIN_ADDRESS_FAILURE_LIMIT", 5 * CHLOPS_LOGIN_FAILURE_LIMIT)
# Proxies whose X-Forwarded-For is believed (chlops.clientip); none by default, so it is ignored.
CHLOPS_TRUSTED_PROXIES = env_networks("CHLOPS_TRUSTED_PROXIES")
AXES_HANDLER = "chlops.lockout.LoginAttemptHandler"
AXES_FAILURE_LIMIT = CHLOPS_LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=env_int("CHLOPS_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]  # what LoginAttemptHandler counts
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # a lockout ends when the lockout page says it will
AXES_CLIENT_IP_CALLABLE = "chlops.clientip.client_ip"
AXES_LOCKOUT_CALLABLE = "chlops.lockout.lockout_response"
AXES_HTTP_RESPONSE_CODE = 429
AXES_DISABLE_ACCESS_LOG = True  # the audit log records sign-ins and sign-outs already
AXES_ENABLE_ADMIN = False  # chlops.admin registers the attempts, for superusers only
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # the dashboard's htmx requests read it
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# A strict Content-Security-Policy (django-csp): scripts and styles only from our own static files,
# no inline code, no eval (htmx runs with allowEval off, set in operations/_live_head.html). CSP3's
# 'self' also matches ws:/wss: to this origin, which the dashboard's socket needs.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_TEMP_DIR = None

if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("CHLOPS_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("CHLOPS_HSTS_SECONDS", 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    CSRF_TRUSTED_ORIGINS = env_list("CHLOPS_CSRF_TRUSTED_ORIGINS", "")

# --- REST framework -----------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "operations.api.auth.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "operations.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

# --- Static files, i18n, logging ----------------------------------------------------------

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise warns on every request while it is missing
STATICFILES_DIRS = [
    ("vendor/htmx", BASE_DIR / "node_modules" / "htmx.org" / "dist"),
    ("vendor/htmx-ext-ws", BASE_DIR / "node_modules" / "htmx-ext-ws" / "dist"),
    ("vendor/uplot", BASE_DIR / "node_modules" / "uplot" / "dist"),
]
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("CHLOPS_LOG_LEVEL", "INFO")},
    # faiss and axes announce themselves at INFO on every command; only their warnings matter.
    "loggers": {
        "django.channels.server": {"level": "WARNING"},
        "faiss.loader": {"level": "WARNING"},
        "axes.apps": {"level": "WARNING"},
    },
}
