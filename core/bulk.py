"""Insert many model instances in one statement per table: COPY on PostgreSQL, executemany elsewhere.

Batch ingestion writes about 10,000 rows per 1,000 decisions (decisions, inputs, reasons, explanations,
notices). Django's ``bulk_create`` sends them as an INSERT whose values psycopg adapts in Python, element
by element (on PostgreSQL as arrays for ``unnest``, escaped with a regular expression per string): for
notices, whose bodies are kilobytes of text, that costs more than the database's own work.
``insert_rows`` streams the rows with ``COPY ... FROM STDIN`` instead (psycopg's C row writer), the way
PostgreSQL loads data fastest, and on other databases runs one prepared INSERT for all rows
(``executemany``: SQLite's C loop, and no 999-parameter splitting).

What it does not do, by design (use ``bulk_create`` where you need these):
- read ids back: primary keys must be set in Python already (UUIDs) or not needed afterwards (an
  auto-increment id stays None on the instance);
- handle conflicts (no ON CONFLICT): a duplicate key raises ``IntegrityError``. Callers that may meet one
  wrap the call in a savepoint and fall back;
- send signals (bulk_create does not either).

Values go through each field's ``get_db_prep_save`` as Django's own inserts do, except where the value
already has the type the driver adapts directly (str, int, bool, None, UUID, Decimal, date, datetime):
those pass as they are. ``auto_now``/``auto_now_add`` fields get their ``pre_save`` value. A related
object assigned before it had a primary key is refused as ``bulk_create`` refuses it. The statement is
logged like any other query (``connection.queries``, ``assertNumQueries``) so query-count tests see it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from decimal import Decimal
from operator import attrgetter
from typing import Any

from django.db import connection, models

_PLAIN = (str, int, bool, type(None), uuid.UUID, Decimal, dt.date, dt.datetime)


def _converter(field: models.Field[Any, Any]) -> Callable[[Any], Any]:
    if isinstance(field, models.JSONField):
        encoder = field.encoder
        adapt = connection.ops.adapt_json_value  # looked up once: the connection is a proxy

        def json_value(value: Any) -> Any:
            return None if value is None else adapt(value, encoder)

        return json_value
    if connection.vendor == "postgresql":
        is_date = isinstance(field, models.DateField) and not isinstance(field, models.DateTimeField)

        def value_pg(value: Any) -> Any:
            # Naive datetimes and datetimes in date columns take Django's conversion (and its warning).
            if not isinstance(value, _PLAIN) or (
                isinstance(value, dt.datetime) and (is_date or value.tzinfo is None)
            ):
                return field.get_db_prep_save(value, connection)
            return value

        return value_pg

    def value_other(value: Any) -> Any:
        return field.get_db_prep_save(value, connection)

    return value_other


# PostgreSQL binary COPY: the server reads values without parsing text (a third less time for notices'
# kilobytes of text, a fifth of the client's time), but each value must arrive as the Python type of its
# column. Column types this module knows, by Django's db_type (without its "(n)"), and what coerces a
# prepared value to the Python type psycopg's binary dumper for that column expects.
def _as(kind: type, make: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def coerce(value: Any) -> Any:
        return value if value is None or type(value) is kind else make(value)

    return coerce


def _as_datetime(value: Any) -> Any:
    if value is None or isinstance(value, dt.datetime):
        return value
    raise TypeError(f"not a datetime: {value!r}")


def _as_date(value: Any) -> Any:
    if value is None or (isinstance(value, dt.date) and not isinstance(value, dt.datetime)):
        return value
    raise TypeError(f"not a date: {value!r}")


_BINARY: dict[str, tuple[str, type | None, Callable[[Any], Any]]] = {
    "uuid": ("uuid", uuid.UUID, _as(uuid.UUID, lambda v: uuid.UUID(str(v)))),
    "varchar": ("varchar", str, _as(str, str)),
    "text": ("text", str, _as(str, str)),
    "smallint": ("int2", int, _as(int, int)),
    "integer": ("int4", int, _as(int, int)),
    "bigint": ("int8", int, _as(int, int)),
    "boolean": ("bool", bool, _as(bool, bool)),
    "numeric": ("numeric", Decimal, _as(Decimal, lambda v: Decimal(str(v)))),
    "timestamp with time zone": ("timestamptz", dt.datetime, _as_datetime),
    "date": ("date", dt.date, _as_date),
    "jsonb": ("jsonb", None, lambda v: v),  # already psycopg's Jsonb wrapper (or None)
}


def _binary_types(
    fields: Sequence[models.Field[Any, Any]],
) -> list[tuple[str, type | None, Callable[[Any], Any]]] | None:
    """The binary COPY type and coercion of each field, or None when one is of a type not listed."""
    out = []
    for field in fields:
        db_type = (field.db_type(connection) or "").split("(")[0].strip()
        if db_type not in _BINARY:
            return None
        out.append(_BINARY[db_type])
    return out


_UNCHANGED = frozenset({str, int, bool, uuid.UUID, Decimal, dt.date, type(None)})


def _prepared(values: list[Any], field: models.Field[Any, Any]) -> list[Any]:
    """The column's values as ``_converter(field)`` prepares them. On PostgreSQL most columns hold only
    values it passes through unchanged: then one pass of type checks replaces a call per value."""
    if connection.vendor == "postgresql" and not isinstance(field, models.JSONField):
        kinds = {type(v) for v in values}
        if kinds <= _UNCHANGED:
            return values
        aware = kinds <= {dt.datetime, type(None)} and all(v is None or v.tzinfo is not None for v in values)
        if aware and not (
            isinstance(field, models.DateField) and not isinstance(field, models.DateTimeField)
        ):
            return values
    convert = _converter(field)
    return [convert(v) for v in values]


def _coerced(values: list[Any], kind: type | None, coerce: Callable[[Any], Any]) -> list[Any]:
    """The column's values as the binary COPY type wants them (unchanged when they already are)."""
    if kind is None or {type(v) for v in values} <= {kind, type(None)}:
        return values
    return [coerce(v) for v in values]


def _fields(model: type[models.Model], objs: Sequence[models.Model]) -> list[models.Field[Any, Any]]:
    """The columns to write: every concrete field, less an auto-increment primary key left unset."""
    pk = model._meta.pk
    fields = []
    for field in model._meta.concrete_fields:
        auto_increment = field.get_internal_type() in ("AutoField", "BigAutoField", "SmallAutoField")
        if field is pk and auto_increment and all(getattr(obj, field.attname) is None for obj in objs):
            continue
        fields.append(field)
    return fields


def _prepare(obj: models.Model, relations: list[Any]) -> None:
    for field in relations:
        if getattr(obj, field.attname) is None and field.is_cached(obj):
            related = field.get_cached_value(obj)
            if related is None:
                continue
            if related.pk is None:
                raise ValueError(
                    f"insert_rows() refused: the related object '{field.name}' has no primary key yet"
                )
            setattr(obj, field.attname, related.pk)


def insert_rows(
    model: type[models.Model], objs: Sequence[models.Model], *, ignore_conflicts: bool = False
) -> int:
    """Insert ``objs`` (instances of ``model``) in one statement. Returns how many rows were given.

    ``ignore_conflicts=True`` skips rows that would break a unique constraint (``ON CONFLICT DO NOTHING``,
    as ``bulk_create(ignore_conflicts=True)``): the rows then go as one prepared INSERT run for each row
    (COPY cannot skip), which PostgreSQL receives pipelined. Nothing says which rows were skipped: read
    them back."""
    if not objs:
        return 0
    fields = _fields(model, objs)
    relations = [f for f in fields if f.is_relation]
    auto = [f for f in fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)]
    pk = model._meta.pk
    if pk is not None and pk.has_default():
        for obj in objs:
            if obj.pk is None:
                obj.pk = pk.get_default()
    for field in relations:  # only rows whose key is unset can need their related object's
        for obj in objs:
            if getattr(obj, field.attname) is None:
                _prepare(obj, [field])
    for field in auto:
        for obj in objs:
            field.pre_save(obj, True)
    copy_binary = not ignore_conflicts and connection.vendor == "postgresql"
    binary = _binary_types(fields) if copy_binary else None
    columns_values = []
    for i, field in enumerate(fields):
        column = _prepared(list(map(attrgetter(field.attname), objs)), field)
        if binary is not None:
            column = _coerced(column, binary[i][1], binary[i][2])
        columns_values.append(column)
    rows = list(zip(*columns_values, strict=True))
    table = connection.ops.quote_name(model._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    with connection.cursor() as cursor:
        if not copy_binary:
            placeholders = ", ".join(["%s"] * len(fields))
            conflict = " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
            cursor.executemany(
                f"INSERT INTO {table} ({columns}) VALUES ({placeholders}){conflict}",  # noqa: S608
                rows,
            )
        else:
            sql = f"COPY {table} ({columns}) FROM STDIN" + (" (FORMAT BINARY)" if binary else "")
            log = cursor.debug_sql(sql) if hasattr(cursor, "debug_sql") else nullcontext()
            # wrap_database_errors: a duplicate key is django.db.IntegrityError, as from any other query.
            with log, connection.wrap_database_errors, cursor.cursor.copy(sql) as copy:
                if binary is not None:
                    copy.set_types([pg_type for pg_type, _kind, _coerce in binary])
                for row in rows:
                    copy.write_row(row)
    if not ignore_conflicts:  # skipped rows are not in the database: their instances stay unsaved
        for obj in objs:
            obj._state.adding = False
            obj._state.db = connection.alias
    return len(rows)


def update_rows(model: type[models.Model], objs: Sequence[models.Model], fields: Sequence[str]) -> int:
    """Write ``fields`` of ``objs`` (saved instances of ``model``) back: one prepared UPDATE by primary
    key run for every row (``executemany``: pipelined on PostgreSQL, SQLite's C loop), one logged query.
    For rows whose new values all differ, where ``bulk_update``'s CASE WHEN grows with every row.
    Returns how many rows were given."""
    if not objs:
        return 0
    concrete = [model._meta.get_field(name) for name in fields]
    pk = model._meta.pk
    assert pk is not None  # noqa: S101 - every concrete model has one
    table = connection.ops.quote_name(model._meta.db_table)
    sets = ", ".join(f"{connection.ops.quote_name(str(f.column))} = %s" for f in concrete)  # type: ignore[union-attr]
    rows = [
        (
            *(f.get_db_prep_save(getattr(obj, f.attname), connection) for f in concrete),  # type: ignore[union-attr]
            pk.get_db_prep_value(obj.pk, connection),
        )
        for obj in objs
    ]
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {table} SET {sets} WHERE {connection.ops.quote_name(pk.column)} = %s",  # noqa: S608
            rows,
        )
    return len(rows)
