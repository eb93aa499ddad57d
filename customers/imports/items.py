"""The API's ingest: JSON items through the CSV importers, one result per item.

The same column parsers, database checks and bulk upserts as ``import_csv``, so the API
and a CSV file give the same errors for the same data. An item is turned into the cells
of a CSV row (``True`` -> "yes", a list of tags -> "a;b"), and as in a file, a field an
item leaves out is left alone on an existing row while a field sent as null is reset to
its default. Items with the same fields are one batch: one lookup per kind of check and
one upsert statement, however many items there are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import DataError, IntegrityError, transaction

from customers.imports import KINDS
from customers.imports.base import CREATED, UNCHANGED, Importer, Parsed, Plan, Row, RowError
from customers.models import DEFAULT_SOURCE

MAX_ITEMS = 1000
ERROR = "error"


@dataclass
class ItemResult:
    index: int
    external_id: str | None
    status: str = ""  # created, updated, unchanged or error
    id: int | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)

    def fail(self, field_name: str | None, message: str, code: str = "invalid") -> None:
        self.status = ERROR
        self.errors.append({"field": field_name or None, "message": message, "code": code})


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value)
    return str(value)


def ingest_items(
    *,
    kind: str,
    items: Sequence[Any],
    source: str = DEFAULT_SOURCE,
    user: AbstractBaseUser | None = None,
) -> list[ItemResult]:
    """Create or update each item by (source, external_id); the good ones land.

    Results are in item order. Raises ValueError for an unknown kind or too many items.
    """
    importer_class = KINDS[kind]
    if len(items) > MAX_ITEMS:
        raise ValueError(f"At most {MAX_ITEMS} items at a time.")
    columns = importer_class.columns
    parser = importer_class(source=source, user=user, present=frozenset(columns))
    results: list[ItemResult] = []
    groups: dict[frozenset[str], list[tuple[int, Mapping[str, str]]]] = {}
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        external_id = item.get("external_id") if isinstance(item, Mapping) else None
        result = ItemResult(index, str(external_id) if external_id is not None else None)
        results.append(result)
        if not isinstance(item, Mapping):
            result.fail(None, "Each item must be a JSON object.")
            continue
        for name in item:
            if name not in columns:
                result.fail(str(name), f"Unknown field {name}.", "unknown_field")
        for name, column in columns.items():
            if column.required and item.get(name) in (None, ""):
                result.fail(name, "This field is required.", "required")
        if result.status == ERROR:
            # Still parse the known fields, so one answer lists every problem.
            row = Row(index, {n: _cell(v) for n, v in item.items() if n in columns})
            parser.parse(row)
            for error in row.errors:
                if error.message != "This field is required.":
                    result.fail(error.field, error.message)
            continue
        key = _cell(external_id).strip()
        if key in seen:
            result.fail(
                "external_id",
                f"{key} is also item {seen[key]}; an id may appear once.",
                "duplicate",
            )
            continue
        seen[key] = index
        result.external_id = key
        cells = {name: _cell(value) for name, value in item.items()}
        groups.setdefault(frozenset(cells), []).append((index, cells))
    for present, rows in groups.items():
        importer = importer_class(source=source, user=user, present=present)
        _ingest_group(importer, rows, results)
    _fill_ids(importer_class, source, results)
    return results


def _ingest_group(
    importer: Importer, rows: list[tuple[int, Mapping[str, str]]], results: list[ItemResult]
) -> None:
    parsed: list[Parsed] = []
    for index, cells in rows:
        row = Row(index, cells)
        values = importer.parse(row)
        if row.errors:
            for error in row.errors:
                results[index].fail(error.field, error.message)
        else:
            parsed.append((index, values))
    if not parsed:
        return

    def reject(errors: list[RowError]) -> None:
        for error in errors:
            results[error.row].fail(error.field, error.message)

    plans = importer.prepare(parsed, reject)
    for plan in plans:
        results[plan.row].status = plan.status
    pending = [plan for plan in plans if plan.status != UNCHANGED]
    if not pending:
        return
    # As import_csv does: one transaction for the batch, and if the database refuses it
    # (a concurrent writer the checks could not foresee), each row on its own.
    try:
        with transaction.atomic():
            importer.write(pending)
    except (IntegrityError, DataError):
        for plan in pending:
            _write_one(importer, plan, results[plan.row])


def _write_one(importer: Importer, plan: Plan, result: ItemResult) -> None:
    try:
        with transaction.atomic():
            importer.write([plan])
    except (IntegrityError, DataError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else "?"
        result.status = ""
        result.fail(None, f"Could not be saved: {reason}", "conflict")


def _fill_ids(importer_class: type[Importer], source: str, results: list[ItemResult]) -> None:
    wanted = {r.external_id: r for r in results if r.status not in ("", ERROR)}
    if not wanted:
        return
    found = importer_class.model._default_manager.filter(
        source=source, external_id__in=list(wanted)
    ).values_list("external_id", "id")
    for external_id, pk in found:
        wanted[external_id].id = pk


__all__ = ["CREATED", "ERROR", "MAX_ITEMS", "ItemResult", "ingest_items"]
