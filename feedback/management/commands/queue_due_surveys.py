from django.core.management.base import BaseCommand

from feedback import services


class Command(BaseCommand):
    help = (
        "Queue the survey invitations that are due, and their emails (the hourly beat job). "
        "Safe to run twice: it queues nothing new."
    )

    def handle(self, *args: object, **options: object) -> None:
        report = services.surveys_queue_due()
        self.stdout.write(
            f"{report.surveys} active survey{'s' if report.surveys != 1 else ''}: "
            f"{report.invitations:,} new invitation{'s' if report.invitations != 1 else ''}, "
            f"{report.messages:,} email{'s' if report.messages != 1 else ''} queued "
            f"in {report.seconds:.1f} s."
        )
