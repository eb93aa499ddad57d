import json

from django.core.management.base import BaseCommand

from campaigns.services.outbox import messages_send_due


class Command(BaseCommand):
    help = (
        "Send the outbox's due messages now (the every-minute beat job): consent, "
        "unsubscribe and the contact limit are checked for each."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--limit", type=int, default=None, help="At most this many rows.")
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")

    def handle(self, *args: object, **options: object) -> None:
        report = messages_send_due(limit=options["limit"])
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict()))
            return
        reasons = ", ".join(f"{k}: {v}" for k, v in sorted(report.skip_reasons.items()))
        self.stdout.write(
            f"sent {report.sent}, postponed {report.postponed}, skipped {report.skipped}"
            f"{' (' + reasons + ')' if reasons else ''}, retrying {report.retrying}, "
            f"failed {report.failed}"
        )
