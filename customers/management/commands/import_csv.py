from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from customers import imports
from customers.models import DEFAULT_SOURCE

DELIMITERS = {",": ",", ";": ";", "tab": "\t", "\\t": "\t"}


class Command(BaseCommand):
    help = (
        "Import customers, orders, returns or interactions from a UTF-8 CSV file, upserting "
        "by (source, external_id); the format is in docs/import.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=list(imports.KINDS))
        parser.add_argument("path", help="CSV file; the first row names the columns.")
        parser.add_argument(
            "--source",
            default=DEFAULT_SOURCE,
            help=f"System the rows come from; ids are unique per source ({DEFAULT_SOURCE}).",
        )
        parser.add_argument(
            "--delimiter",
            choices=list(DELIMITERS),
            default=None,
            help="Column separator (default: detected from the header, ',' or ';').",
        )
        parser.add_argument(
            "--batch-size", type=int, default=1000, help="Rows per transaction (default 1000)."
        )

    def handle(self, *args: object, **options: object) -> None:
        path = Path(str(options["path"]))
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        delimiter = DELIMITERS[options["delimiter"]] if options["delimiter"] else None
        try:
            file = path.open("rb")
        except OSError as error:
            raise CommandError(f"Cannot open {path}: {error.strerror}.") from error
        with file:
            try:
                result = imports.import_csv(
                    kind=options["kind"],
                    file=file,
                    source=options["source"],
                    delimiter=delimiter,
                    batch_size=options["batch_size"],
                )
            except imports.ImportFileError as error:
                raise CommandError(f"{path}: {error} Nothing was imported.") from error
        for warning in result.warnings:
            self.stderr.write(f"warning: {warning}")
        for error in result.errors:
            self.stderr.write(str(error))
        if result.errors_not_kept:
            self.stderr.write(f"... and {result.errors_not_kept:,} more errors not shown.")
        self.stdout.write(result.summary())
        if result.failed:
            rows = "row was" if result.failed == 1 else "rows were"
            landed = result.created + result.updated + result.unchanged
            raise CommandError(
                f"{result.failed} {rows} not imported (errors above)"
                + ("; the other rows were. " if landed else ". ")
                + "Fix them and import the file again: imported rows are not duplicated."
            )
