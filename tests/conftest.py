"""Shared fixtures. App-specific fixtures live beside their tests; factories in tests/factories.py."""

import os

import pytest
from django.db import connection


def pytest_collection_modifyitems(config, items):  # type: ignore[no-untyped-def]
    """Tests marked ``postgres`` need PostgreSQL. In CI (CI=true) they fail loudly when it is missing;
    on a developer's SQLite run they are skipped with a reason."""
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
