"""CSV import of customers, orders, returns and interactions (docs/import.md).

One service for the ``import_csv`` command now and the import page and API later:
``import_csv(kind=..., file=...)`` streams the file in batches, upserts each batch by
(source, external_id) and reports per-row errors while the good rows land.
"""

from __future__ import annotations

from typing import IO

from django.contrib.auth.models import AbstractBaseUser

from customers.imports.base import ERRORS_KEPT, Importer, ImportResult, RowError, run
from customers.imports.customers import CustomerImporter
from customers.imports.interactions import InteractionImporter
from customers.imports.orders import OrderImporter
from customers.imports.reading import CsvRecords, ImportFileError
from customers.imports.returns import ReturnImporter
from customers.models import DEFAULT_SOURCE

__all__ = [
    "ERRORS_KEPT",
    "KINDS",
    "ImportFileError",
    "ImportResult",
    "RowError",
    "import_csv",
]

# In dependency order: orders need their customers, returns their orders.
KINDS: dict[str, type[Importer]] = {
    importer.kind: importer
    for importer in (CustomerImporter, OrderImporter, ReturnImporter, InteractionImporter)
}


def import_csv(
    *,
    kind: str,
    file: IO[bytes] | IO[str],
    source: str = DEFAULT_SOURCE,
    user: AbstractBaseUser | None = None,
    batch_size: int = 1000,
    delimiter: str | None = None,
) -> ImportResult:
    """Import a CSV file of one kind; ``delimiter`` None detects ``,`` or ``;``.

    Raises ImportFileError, having written nothing, when the file as a whole is unusable
    (unknown kind, empty, not UTF-8, a required column missing). Otherwise every row is
    created, updated, unchanged or rejected with its errors in the result; each batch
    of ``batch_size`` rows is one transaction. ``user`` is recorded on consent events.
    """
    try:
        importer_class = KINDS[kind]
    except KeyError:
        raise ImportFileError(f"Unknown kind {kind!r}; use one of: {', '.join(KINDS)}.") from None
    source = source.strip()
    if not source or len(source) > 40:
        raise ImportFileError("The source must be 1 to 40 characters.")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1.")
    records = CsvRecords(file, delimiter=delimiter)
    known = importer_class.columns
    missing = [name for name, column in known.items() if column.required]
    missing = [name for name in missing if name not in records.columns]
    if missing:
        found = ", ".join(name for name in records.columns if name) or "nothing"
        raise ImportFileError(
            f"Missing required column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)} (the header has: {found})."
        )
    result = ImportResult(kind=kind)
    unknown = [name for name in records.columns if name and name not in known]
    if unknown:
        result.warnings.append(
            f"Ignored unknown column{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}."
        )
    present = frozenset(name for name in records.columns if name in known)
    importer = importer_class(source=source, user=user, present=present)
    run(importer, records, result, batch_size)
    return result
