"""Write numpy columns into a model's table: binary COPY on PostgreSQL, executemany elsewhere.

Binary COPY straight from a numpy structured array costs about a second per million
rows to build, against ten or more for text formatting (docs/benchmarks.md). It needs
fixed-width columns: integers, floats, dates, booleans. A nullable column is written
by splitting the rows into those with and without a value.
"""

from __future__ import annotations

import datetime as dt
import struct
from collections.abc import Mapping

import numpy as np
from django.db import connection, models

_PG_EPOCH = np.datetime64("2000-01-01", "D")
_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_TRAILER = struct.pack(">h", -1)

# Django internal field type -> big-endian numpy type of PostgreSQL's binary format.
_BINARY_TYPES = {
    "BigAutoField": ">i8",
    "BigIntegerField": ">i8",
    "AutoField": ">i4",
    "IntegerField": ">i4",
    "PositiveIntegerField": ">i4",
    "PositiveBigIntegerField": ">i8",
    "SmallIntegerField": ">i2",
    "PositiveSmallIntegerField": ">i2",
    "FloatField": ">f8",
    "DateField": ">i4",
    "BooleanField": ">?",
}


def _field(model: type[models.Model], name: str) -> models.Field:
    field = model._meta.get_field(name)
    if field.is_relation:
        return field.target_field  # type: ignore[attr-defined]
    return field  # type: ignore[return-value]


def _binary_type(model: type[models.Model], name: str) -> str:
    internal = _field(model, name).get_internal_type()
    try:
        return _BINARY_TYPES[internal]
    except KeyError:
        raise TypeError(f"{model.__name__}.{name} ({internal}) is not fixed-width") from None


def _pg_values(array: np.ndarray, kind: str) -> np.ndarray:
    if array.dtype.kind == "M":  # datetime64 dates -> days since 2000-01-01
        return (array.astype("datetime64[D]") - _PG_EPOCH).astype(np.int64)
    if kind.endswith("f8") and not np.isfinite(array).all():
        raise ValueError("refusing to write NaN or infinity")
    return array


def _copy_binary(model: type[models.Model], columns: Mapping[str, np.ndarray]) -> None:
    names = list(columns)
    n = len(next(iter(columns.values())))
    if n == 0:
        return
    kinds = [_binary_type(model, name) for name in names]
    layout: list[tuple[str, str]] = [("count", ">i2")]
    for i, kind in enumerate(kinds):
        layout += [(f"l{i}", ">i4"), (f"v{i}", kind)]
    rows = np.empty(n, dtype=layout)
    rows["count"] = len(names)
    for i, (name, kind) in enumerate(zip(names, kinds, strict=True)):
        rows[f"l{i}"] = np.dtype(kind).itemsize
        rows[f"v{i}"] = _pg_values(np.asarray(columns[name]), kind)
    db_columns = ", ".join(connection.ops.quote_name(_column(model, name)) for name in names)
    table = connection.ops.quote_name(model._meta.db_table)
    sql = f"COPY {table} ({db_columns}) FROM STDIN (FORMAT BINARY)"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        copy.write(_HEADER)
        step = 200_000  # bounded extra memory for the bytes of one slice
        for start in range(0, n, step):
            copy.write(rows[start : start + step].tobytes())
        copy.write(_TRAILER)


def _column(model: type[models.Model], name: str) -> str:
    return model._meta.get_field(name).column  # type: ignore[union-attr]


def _python_values(array: np.ndarray) -> list[object]:
    if array.dtype.kind == "M":
        return [None if np.isnat(v) else dt.date.fromisoformat(str(v)[:10]) for v in array]
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise ValueError("refusing to write NaN or infinity")
    return array.tolist()


def _insert_many(model: type[models.Model], columns: Mapping[str, np.ndarray]) -> None:
    names = list(columns)
    values = [_python_values(np.asarray(columns[name])) for name in names]
    table = connection.ops.quote_name(model._meta.db_table)
    db_columns = ", ".join(connection.ops.quote_name(_column(model, name)) for name in names)
    # Identifiers come from model metadata, quoted; values are parameters.
    placeholders = ", ".join(["%s"] * len(names))
    sql = f"INSERT INTO {table} ({db_columns}) VALUES ({placeholders})"  # noqa: S608
    rows = list(zip(*values, strict=True))
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 5000):
            cursor.executemany(sql, rows[start : start + 5000])


def bulk_write(model: type[models.Model], columns: Mapping[str, np.ndarray]) -> int:
    """Insert one row per position of the equally long ``columns`` (field name -> array).

    Date columns are ``datetime64[D]``; NaT means NULL. Returns the number of rows.
    """
    lengths = {len(v) for v in columns.values()}
    if len(lengths) != 1:
        raise ValueError(f"columns differ in length: {sorted(lengths)}")
    n = lengths.pop()
    if connection.vendor != "postgresql":
        _insert_many(model, columns)
        return n
    nullable = [k for k, v in columns.items() if np.asarray(v).dtype.kind == "M"]
    if not nullable:
        _copy_binary(model, columns)
        return n
    # Split on which date columns are NULL, and write each group without those columns.
    mask = np.stack([np.isnat(np.asarray(columns[k])) for k in nullable], axis=1)
    patterns, group = np.unique(mask, axis=0, return_inverse=True)
    for g, pattern in enumerate(patterns):
        take = np.flatnonzero(group.ravel() == g)
        skip = {k for k, is_null in zip(nullable, pattern, strict=True) if is_null}
        _copy_binary(model, {k: np.asarray(v)[take] for k, v in columns.items() if k not in skip})
    return n
