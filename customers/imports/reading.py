"""Stream a CSV file as numbered records: UTF-8 with or without BOM, `,` or `;` separated.

Lines are decoded one at a time, so a byte that is not UTF-8 costs only the row it is
in, and memory stays flat however long the file is.
"""

from __future__ import annotations

import csv
import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO


class ImportFileError(Exception):
    """The file as a whole cannot be imported; nothing was written."""


@dataclass(frozen=True, slots=True)
class Record:
    number: int  # as a spreadsheet shows it: the header is row 1
    cells: dict[str, str]
    error: str = ""


class _Lines:
    def __init__(self, file: Iterable[bytes] | Iterable[str]) -> None:
        self._file = file
        self.undecodable = 0  # lines seen so far that were not UTF-8

    def __iter__(self) -> Iterator[str]:
        first = True
        for raw in self._file:
            if isinstance(raw, bytes):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError:
                    self.undecodable += 1
                    line = raw.decode("utf-8", errors="replace")
            else:
                line = raw
            if first:
                line = line.removeprefix("\ufeff")
                first = False
            yield line


def column_key(name: str) -> str:
    """ "External ID", "external-id" and "external_id" all name the same column."""
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def sniff_delimiter(header_line: str) -> str:
    # The header is plain column names, so counting is enough; ";" is what Excel writes
    # where the decimal separator is a comma (Poland, Ukraine).
    return ";" if header_line.count(";") > header_line.count(",") else ","


class CsvRecords:
    """Reads the header on construction (raising ImportFileError), then yields records."""

    def __init__(self, file: IO[bytes] | IO[str], *, delimiter: str | None = None) -> None:
        self._lines = _Lines(file)
        lines = iter(self._lines)
        first = next(lines, None)
        if self._lines.undecodable:
            raise ImportFileError(
                "The file is not UTF-8 text (an Excel workbook, or a CSV saved in another "
                "encoding?). Save it as 'CSV UTF-8' and import it again."
            )
        if first is None or not first.strip():
            raise ImportFileError("The file is empty: its first row must name the columns.")
        if delimiter is not None and len(delimiter) != 1:
            raise ImportFileError("The delimiter must be a single character.")
        self.delimiter = delimiter or sniff_delimiter(first)
        self._reader = csv.reader(itertools.chain([first], lines), delimiter=self.delimiter)
        self.columns = [column_key(name) for name in next(self._reader)]
        named = [name for name in self.columns if name]
        for name in named:
            if named.count(name) > 1:
                raise ImportFileError(f"Column {name!r} appears more than once in the header.")

    def __iter__(self) -> Iterator[Record]:
        width = len(self.columns)
        number = 1
        while True:
            undecodable = self._lines.undecodable
            try:
                cells = next(self._reader)
            except StopIteration:
                return
            except csv.Error as error:
                number += 1
                yield Record(number, {}, f"This row could not be read: {error}.")
                continue
            number += 1
            if not any(cell.strip() for cell in cells):
                continue  # a blank row keeps its number, like in a spreadsheet
            if self._lines.undecodable != undecodable:
                yield Record(
                    number, {}, "This row is not UTF-8 text; save the file as 'CSV UTF-8'."
                )
                continue
            if len(cells) > width and any(cell.strip() for cell in cells[width:]):
                yield Record(number, {}, self._too_many_cells(len(cells), width))
                continue
            if len(cells) < width:  # spreadsheets drop trailing empty cells
                cells += [""] * (width - len(cells))
            yield Record(number, dict(zip(self.columns, cells, strict=False)))

    def _too_many_cells(self, found: int, width: int) -> str:
        message = (
            f"This row has {found} values but the header has {width} columns: a value "
            f"containing {self.delimiter!r} must be in double quotes"
        )
        if self.delimiter == ",":
            message += ", and amounts use a dot (12.50, not 12,50)"
        return message + "."
