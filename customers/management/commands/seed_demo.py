import datetime as dt

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from customers import demo
from customers.models import Customer


class Command(BaseCommand):
    help = (
        "Generate a realistic, reproducible demo history (customers, orders, returns, "
        "consent, tags, staff and their conversations) ending at --end-date."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--customers", type=int, default=2000)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument(
            "--end-date",
            type=dt.date.fromisoformat,
            default=None,
            help="YYYY-MM-DD; the history ends at the start of this day (default: today).",
        )
        parser.add_argument("--years", type=int, default=3, help="Years of history.")
        parser.add_argument(
            "--chunk-size",
            type=int,
            default=50_000,
            help="Customers per transaction, in whole blocks of 10,000; does not change the data.",
        )
        parser.add_argument(
            "--if-empty", action="store_true", help="Do nothing if any customer exists."
        )
        parser.add_argument(
            "--no-feedback",
            action="store_true",
            help="Skip the demo surveys, answers and detractor follow-ups (feedback.demo).",
        )

    def handle(self, *args: object, **options: object) -> None:
        if options["customers"] < 1 or options["years"] < 1:
            raise CommandError("--customers and --years must be at least 1.")
        if options["if_empty"] and Customer.objects.exists():
            self.stdout.write("Customers already exist; --if-empty: nothing seeded.")
            return

        def progress(done: int, total: int) -> None:
            if total > 50_000:
                self.stdout.write(f"  {done:,} / {total:,} customers")

        try:
            report = demo.seed_demo(
                customers=options["customers"],
                seed=options["seed"],
                end_date=options["end_date"],
                years=options["years"],
                chunk_size=options["chunk_size"],
                progress=progress,
            )
        except demo.SeedConflict as error:
            raise CommandError(f"{error}; the chunks written before it stay.") from error
        for currency in report.missing_fx:
            self.stderr.write(f"FX_RATES has no rate for {currency}; used the demo's own rate.")
        if report.staff_created:
            self.stdout.write(f"Staff created: {', '.join(report.staff_created)}")
        config = report.config
        rows = ", ".join(f"{n:,} {demo.LABELS[key]}" for key, n in report.created.items())
        total = sum(report.created.values())
        self.stdout.write(
            f"Seeded {rows} (seed {config.seed}, {config.years} years to {config.end_date}) "
            f"in {report.seconds:.1f} s, {total / max(report.seconds, 1e-9):,.0f} rows/s."
        )
        if not options["no_feedback"]:
            from feedback.demo import feedback_demo_seed

            end = dt.datetime.combine(config.end_date, dt.time(), timezone.get_current_timezone())
            feedback = feedback_demo_seed(seed=config.seed, end=end)
            self.stdout.write(f"Feedback: {feedback.summary()}.")
