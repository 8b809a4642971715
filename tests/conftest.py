"""Shared fixtures. App-specific fixtures live beside their tests; factories in tests/factories.py."""

import os
from collections.abc import Iterable, Iterator

import pytest
from django.db import connection


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``postgres`` need PostgreSQL. In CI (CI=true) they fail loudly when it is missing;
    on a developer's SQLite run they are skipped with a reason."""
    _skip_browser_tests_without_chromium(items)
    if os.environ.get("DATABASE_URL", "").startswith(("postgres", "postgresql", "pgsql")):
        return
    if os.environ.get("CI") == "true":
        return  # let them run and fail: CI must never skip them silently
    skip = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://...")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def on_postgres() -> bool:
    return connection.vendor == "postgresql"


@pytest.fixture(scope="session", autouse=True)
def _audit_triggers_allow_test_flush() -> Iterator[None]:
    """On PostgreSQL the audit tables refuse TRUNCATE (core migration 0002), which is how Django empties
    the database after a ``transaction=True`` test. Only for that flush, switch their triggers off inside
    the flush's own transaction. Production keeps the refusal (``manage.py flush`` is refused there)."""
    from django.db.backends.base.operations import BaseDatabaseOperations
    from django.db.backends.postgresql.operations import DatabaseOperations

    original = DatabaseOperations.execute_sql_flush
    guarded = ("core_auditevent", "core_auditchainhead")

    def execute_sql_flush(self: BaseDatabaseOperations, sql_list: Iterable[str]) -> None:
        off = [f"ALTER TABLE {table} DISABLE TRIGGER USER" for table in guarded]
        on = [f"ALTER TABLE {table} ENABLE TRIGGER USER" for table in guarded]
        return original(self, [*off, *sql_list, *on])

    DatabaseOperations.execute_sql_flush = execute_sql_flush  # type: ignore[method-assign]
    yield
    DatabaseOperations.execute_sql_flush = original  # type: ignore[method-assign]


def _redis_reachable(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping())
    except (redis.RedisError, OSError):
        return False


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Tests marked ``worker`` start a real Celery worker on Redis (CELERY_TEST_BROKER_URL). Locally they
    are skipped when Redis is unreachable; in CI (CI=true) they run and fail, never skip silently."""
    if "worker" not in item.keywords or os.environ.get("CI") == "true":
        return
    url = os.environ.get("CELERY_TEST_BROKER_URL", "redis://127.0.0.1:6379/15")
    if not _redis_reachable(url):
        pytest.skip(f"needs Redis for a real Celery worker at {url}")


def _skip_browser_tests_without_chromium(items: list[pytest.Item]) -> None:
    """Tests marked ``browser`` drive Debian's /usr/bin/chromium (``apt-get install chromium``). Locally they
    are skipped when it is missing; in CI (CI=true) they run and fail (.ci/run installs it)."""
    if os.path.exists("/usr/bin/chromium") or os.environ.get("CI") == "true":
        return
    skip = pytest.mark.skip(reason="needs Debian's Chromium at /usr/bin/chromium: apt-get install chromium")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)
