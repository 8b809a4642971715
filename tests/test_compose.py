"""docker-compose.yml and the Dockerfile, checked without a Docker engine (none runs here).

The compose file is parsed as YAML (anchors resolved) and its environment is interpolated the way Compose
does it, then fed to the real settings module in a subprocess: the wiring is proven against what the
settings actually read, not against a copy of the names.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
APP_SERVICES = ("migrate", "web", "worker", "beat")
LONG_RUNNING = ("web", "worker", "beat")
SHARED_WIRING = ("DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL", "SECRET_KEY", "DJANGO_DEBUG", "MEDIA_ROOT")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


_VAR = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:-|:\?)(?P<arg>[^}]*))?\}")


class MissingVariable(Exception):
    pass


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's interpolation for the forms this file uses: ``${X}``, ``${X:-default}``, ``${X:?error}``."""

    def sub(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name"), match.group("op"), match.group("arg")
        current = env.get(name, "")
        if current:
            return current
        if op == ":?":
            raise MissingVariable(f"{name}: {arg}")
        return arg if op == ":-" else ""

    return _VAR.sub(sub, value)


def service_env(service: dict[str, Any], env: dict[str, str]) -> dict[str, str]:
    return {key: interpolate(str(value), env) for key, value in service["environment"].items()}


def command_of(service: dict[str, Any]) -> list[str]:
    command = service["command"]
    return command.split() if isinstance(command, str) else [str(part) for part in command]


HOST_ENV = {"SECRET_KEY": "k" * 50, "POSTGRES_PASSWORD": "pw-from-host"}


def test_it_declares_postgres_16_redis_7_and_the_app_services(services: dict[str, Any]) -> None:
    assert set(services) == {"db", "redis", *APP_SERVICES}
    assert services["db"]["image"] == "postgres:16"
    assert services["redis"]["image"] == "redis:7"
    for name in APP_SERVICES:
        assert services[name]["build"] == "."
        assert services[name]["image"] == "contestable:latest"


def test_postgres_and_redis_have_healthchecks_that_ask_the_server_itself(services: dict[str, Any]) -> None:
    assert "pg_isready" in " ".join(services["db"]["healthcheck"]["test"])
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]


def test_app_services_wait_for_healthy_services_and_a_finished_migration(
    services: dict[str, Any],
) -> None:
    assert services["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert services["migrate"]["restart"] == "no"
    for name in LONG_RUNNING:
        assert services[name]["depends_on"] == {
            "db": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
            "migrate": {"condition": "service_completed_successfully"},
        }, name


def test_each_service_runs_the_right_program(services: dict[str, Any]) -> None:
    assert command_of(services["migrate"])[-3:] == ["manage.py", "migrate", "--noinput"]
    web = command_of(services["web"])
    assert web[:2] == ["gunicorn", "config.wsgi:application"]
    assert "--bind=0.0.0.0:8000" in web
    assert command_of(services["worker"])[:4] == ["celery", "-A", "config", "worker"]
    assert command_of(services["beat"])[:4] == ["celery", "-A", "config", "beat"]


def test_the_web_healthcheck_calls_healthz_as_the_tls_proxy_would(services: dict[str, Any]) -> None:
    check = " ".join(services["web"]["healthcheck"]["test"])
    assert "/healthz" in check
    assert "X-Forwarded-Proto" in check


def test_web_worker_and_beat_share_one_database_broker_and_cache(services: dict[str, Any]) -> None:
    envs = {name: service_env(services[name], HOST_ENV) for name in APP_SERVICES}
    for key in SHARED_WIRING:
        values = {name: env[key] for name, env in envs.items()}
        assert len(set(values.values())) == 1, f"{key} differs: {values}"

    env = envs["web"]
    database = urlsplit(env["DATABASE_URL"])
    db_env = services["db"]["environment"]
    assert database.scheme == "postgres"
    assert database.hostname == "db"
    assert database.username == db_env["POSTGRES_USER"]
    assert database.password == interpolate(db_env["POSTGRES_PASSWORD"], HOST_ENV) == "pw-from-host"
    assert database.path == "/" + db_env["POSTGRES_DB"]
    assert urlsplit(env["CELERY_BROKER_URL"]).hostname == "redis"
    assert urlsplit(env["CACHE_URL"]).hostname == "redis"
    assert env["CELERY_BROKER_URL"] != env["CACHE_URL"], (
        "broker and cache should use separate Redis databases"
    )
    assert env["DJANGO_DEBUG"] == "false"


def test_the_secret_key_has_no_default(services: dict[str, Any]) -> None:
    with pytest.raises(MissingVariable, match="SECRET_KEY"):
        service_env(services["web"], {"POSTGRES_PASSWORD": "pw"})


def test_the_database_password_has_no_default(services: dict[str, Any]) -> None:
    with pytest.raises(MissingVariable, match="POSTGRES_PASSWORD"):
        interpolate(services["db"]["environment"]["POSTGRES_PASSWORD"], {"SECRET_KEY": "k"})
    with pytest.raises(MissingVariable, match="POSTGRES_PASSWORD"):
        service_env(services["worker"], {"SECRET_KEY": "k"})


def test_postgres_data_and_private_media_live_on_named_volumes(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert "pgdata:/var/lib/postgresql/data" in services["db"]["volumes"]
    media_root = service_env(services["web"], HOST_ENV)["MEDIA_ROOT"]
    for name in ("web", "worker"):
        assert f"media:{media_root}" in services[name]["volumes"], name
    assert {"pgdata", "media"} <= set(compose["volumes"])


def test_the_settings_read_the_compose_environment_as_production(services: dict[str, Any]) -> None:
    env = {"PATH": os.environ.get("PATH", ""), **service_env(services["web"], HOST_ENV)}
    probe = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "db = s.DATABASES['default']; "
        "print(json.dumps({'debug': s.DEBUG, 'engine': db['ENGINE'], 'host': db['HOST'], 'name': db['NAME'], "
        "'broker': s.CELERY_BROKER_URL, 'eager': s.CELERY_TASK_ALWAYS_EAGER, "
        "'cache': s.CACHES['default']['BACKEND'], 'secret': s.SECRET_KEY, "
        "'hosts': s.ALLOWED_HOSTS, 'media': str(s.MEDIA_ROOT)}))"
    )
    result = subprocess.run(  # noqa: S603 - our own interpreter, a fixed program
        [sys.executable, "-c", probe],
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen == {
        "debug": False,
        "engine": "django.db.backends.postgresql",
        "host": "db",
        "name": "contestable",
        "broker": "redis://redis:6379/0",
        "eager": False,
        "cache": "django.core.cache.backends.redis.RedisCache",
        "secret": HOST_ENV["SECRET_KEY"],
        "hosts": ["localhost", "127.0.0.1"],
        "media": "/app/var/private",
    }


def test_the_dockerfile_builds_a_non_root_image_that_installs_the_project() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    lines = [line.strip() for line in dockerfile.splitlines()]
    assert (
        lines[next(i for i, line in enumerate(lines) if line.startswith("FROM"))] == "FROM python:3.11-slim"
    )
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users, "the image must drop root"
    assert users[-1] not in {"root", "0"}
    assert re.search(r"pip install [^\n]*-e \.", dockerfile), "the project itself must be installed"
    assert "['project']['dependencies']" in dockerfile, "the pinned dependencies must be installed"
    assert "collectstatic --noinput" in dockerfile
    assert (ROOT / ".dockerignore").read_text().split().count(".venv") == 1
