"""What every kind of import shares: results, per-row parsing, batching and the upsert.

A batch is parsed row by row (pure Python), then checked against the database with one
query per lookup, then written in one transaction with bulk statements. A database error
the checks could not foresee (a concurrent writer) is pinned to its row by writing that
batch again row by row, so the good rows still land and no row is half-written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser
from django.db import DataError, IntegrityError, models, transaction

from customers.imports.fields import CellError, Parser
from customers.imports.reading import Record

# Kept for display; past this only the count grows, so a file of nothing but bad rows
# still imports in constant memory.
ERRORS_KEPT = 10_000

CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"


@dataclass(frozen=True, slots=True)
class RowError:
    row: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"row {self.row}, {self.field}" if self.field else f"row {self.row}"
        return f"{where}: {self.message}"


@dataclass
class ImportResult:
    kind: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0  # rows not imported; a row can have several errors
    errors: list[RowError] = field(default_factory=list)
    errors_not_kept: int = 0
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        noun = "error" if self.failed == 1 else "errors"
        return (
            f"{self.kind}: {self.created} created, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.failed} {noun}"
        )

    def reject(self, errors: Iterable[RowError]) -> None:
        self.failed += 1
        for error in errors:
            if len(self.errors) < ERRORS_KEPT:
                self.errors.append(error)
            else:
                self.errors_not_kept += 1


Reject = Callable[[list[RowError]], None]


@dataclass(frozen=True)
class Column:
    parse: Parser
    required: bool = False  # in the header, and a value in every row
    default: object = None  # for an empty cell


class Row:
    __slots__ = ("cells", "errors", "number")

    def __init__(self, number: int, cells: Mapping[str, str]) -> None:
        self.number = number
        self.cells = cells
        self.errors: list[RowError] = []

    def parse(self, columns: Mapping[str, Column]) -> dict[str, Any]:
        """Values of the columns present in the file; absent ones are left out."""
        values: dict[str, Any] = {}
        for name, column in columns.items():
            raw = self.cells.get(name)
            if raw is None:
                continue
            raw = raw.strip()
            if not raw:
                if column.required:
                    self.errors.append(RowError(self.number, name, "This field is required."))
                values[name] = column.default
                continue
            try:
                values[name] = column.parse(raw)
            except CellError as error:
                self.errors.append(RowError(self.number, name, str(error)))
        return values


@dataclass(slots=True)
class Plan:
    """One checked row: what to write, and whether that creates or updates a row."""

    row: int
    status: str
    fields: dict[str, Any]  # model field -> value for the upsert
    pk: int | None = None  # of the existing row
    extra: Any = None  # per kind: tags, consent, follow-up


Parsed = tuple[int, dict[str, Any]]  # row number, values by column


class Importer:
    kind: ClassVar[str]
    model: ClassVar[type[models.Model]]
    columns: ClassVar[dict[str, Column]]

    def __init__(
        self, *, source: str, user: AbstractBaseUser | None, present: frozenset[str]
    ) -> None:
        self.source = source
        self.user = user
        self.present = present

    def parse(self, row: Row) -> dict[str, Any]:
        return row.parse(self.columns)

    def prepare(self, rows: list[Parsed], reject: Reject) -> list[Plan]:
        """Check a batch against the database (one query per lookup) and plan the writes."""
        raise NotImplementedError

    def write(self, plans: list[Plan]) -> None:
        """Write planned rows; called inside a transaction, and again per row on failure.

        Must not change the plans: a failed batch is retried from them.
        """
        raise NotImplementedError

    def upsert(self, plans: list[Plan], update_fields: list[str]) -> list[int]:
        """Insert or update the plans' rows in one statement; returns their ids in order."""
        model = self.model
        if _unique_on_external_id(model):
            objs = [model(source=self.source, **plan.fields) for plan in plans]
            unique_fields = ["source", "external_id"]
        else:
            # A partial unique index cannot be an ON CONFLICT target without its WHERE
            # clause, which Django does not write; the ids found by prepare() can.
            objs = [model(pk=plan.pk, source=self.source, **plan.fields) for plan in plans]
            unique_fields = ["pk"]
        model._default_manager.bulk_create(
            objs, update_conflicts=True, unique_fields=unique_fields, update_fields=update_fields
        )
        return [obj.pk for obj in objs]

    def changed(self, current: Mapping[str, Any], fields: Mapping[str, Any]) -> bool:
        return any(current[name] != value for name, value in fields.items())


def _unique_on_external_id(model: type[models.Model]) -> bool:
    for constraint in model._meta.constraints:
        if (
            isinstance(constraint, models.UniqueConstraint)
            and tuple(constraint.fields) == ("source", "external_id")
            and constraint.condition is None
        ):
            return True
    return False


def run(
    importer: Importer, records: Iterable[Record], result: ImportResult, batch_size: int
) -> None:
    # The one thing that grows with the file: external ids seen, to name the first row
    # of a duplicate (about 120 bytes a row: 120 MB for a million-row file).
    seen: dict[str, int] = {}
    batch: list[Parsed] = []
    # Errors wait for their batch, so they are reported in row order.
    rejected: list[list[RowError]] = []
    for record in records:
        if record.error:
            rejected.append([RowError(record.number, "", record.error)])
        else:
            _parse(importer, record, seen, batch, rejected)
        if len(batch) + len(rejected) >= batch_size:
            _import_batch(importer, batch, rejected, result)
            batch, rejected = [], []
    _import_batch(importer, batch, rejected, result)


def _parse(
    importer: Importer,
    record: Record,
    seen: dict[str, int],
    batch: list[Parsed],
    rejected: list[list[RowError]],
) -> None:
    external_id = record.cells.get("external_id", "").strip()
    if external_id in seen:
        message = f"{external_id} is also in row {seen[external_id]}; an id may appear once."
        rejected.append([RowError(record.number, "external_id", message)])
        return
    if external_id:
        seen[external_id] = record.number
    row = Row(record.number, record.cells)
    values = importer.parse(row)
    if row.errors:
        rejected.append(row.errors)
    else:
        batch.append((row.number, values))


def _import_batch(
    importer: Importer, batch: list[Parsed], rejected: list[list[RowError]], result: ImportResult
) -> None:
    if batch:
        _write_batch(importer, batch, rejected.append, result)
    for errors in sorted(rejected, key=lambda errors: errors[0].row):
        result.reject(errors)


def _write_batch(
    importer: Importer, batch: list[Parsed], reject: Reject, result: ImportResult
) -> None:
    plans = importer.prepare(batch, reject)
    pending = [plan for plan in plans if plan.status != UNCHANGED]
    result.unchanged += len(plans) - len(pending)
    if not pending:
        return
    try:
        with transaction.atomic():
            importer.write(pending)
    except (IntegrityError, DataError):
        saved = []
        for plan in pending:
            try:
                with transaction.atomic():
                    importer.write([plan])
            except (IntegrityError, DataError) as error:
                reason = str(error).strip().splitlines()[0] if str(error).strip() else "?"
                reject([RowError(plan.row, "", f"Could not be saved: {reason}")])
            else:
                saved.append(plan)
        pending = saved
    for plan in pending:
        if plan.status == CREATED:
            result.created += 1
        else:
            result.updated += 1
