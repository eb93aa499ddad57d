import datetime as dt
import json

from django.core.management.base import BaseCommand, CommandError

from customers.services.value import RunAlreadyInProgress, value_recompute


class Command(BaseCommand):
    help = (
        "Refit the customer value model and rewrite every customer's values and segment "
        "(the 02:30 beat job). --as-of a past date also backtests the period after it."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--as-of", type=dt.date.fromisoformat, default=None)
        parser.add_argument("--time-unit", choices=["day", "week"], default="day")
        parser.add_argument("--horizon-months", type=int, default=12)
        parser.add_argument("--discount-rate", type=float, default=0.10, help="Annual.")
        parser.add_argument(
            "--churn-window-days",
            type=int,
            default=365,
            help="Churn risk is the probability of no purchase within this many days.",
        )
        parser.add_argument(
            "--batch-size", type=int, default=None, help="Customers per batch (CLV_BATCH_SIZE)."
        )
        parser.add_argument("--json", action="store_true", help="Print the run as JSON.")

    def handle(self, *args: object, **options: object) -> None:
        try:
            run = value_recompute(
                as_of=options["as_of"],
                time_unit=options["time_unit"],
                horizon_months=options["horizon_months"],
                discount_rate=options["discount_rate"],
                churn_window_days=options["churn_window_days"],
                batch_size=options["batch_size"],
                trigger="command",
            )
        except RunAlreadyInProgress as error:
            raise CommandError(str(error)) from None
        summary = {
            "id": run.pk,
            "as_of": run.as_of.isoformat(),
            "time_unit": run.time_unit,
            "status": run.status,
            "error": run.error,
            "params": run.params,
            "log_likelihood": run.log_likelihood,
            "gg_log_likelihood": run.gg_log_likelihood,
            "customers": run.customers,
            "repeat_customers": run.repeat_customers,
            "gg_customers": run.gg_customers,
            "distinct_rows": run.distinct_rows,
            "churn_window_days": run.churn_window_days,
            "batches": run.batches.count(),
            "durations": run.durations,
            "backtest": {k: v for k, v in (run.backtest or {}).items() if k != "calibration"},
        }
        if options["json"]:
            self.stdout.write(json.dumps(summary))
        else:
            self.stdout.write(
                f"Run {run.pk} as of {run.as_of}: {run.status}"
                f"{' — ' + run.error if run.error else ''}; {run.customers} customers, "
                f"stages {run.durations}"
            )
        if run.status != "succeeded":
            raise CommandError(run.error or "the run failed")
