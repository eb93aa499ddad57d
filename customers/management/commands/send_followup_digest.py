from django.core.management.base import BaseCommand

from customers import services


class Command(BaseCommand):
    help = "Email each staff member the follow-ups overdue or due today (the 07:00 beat job)."

    def handle(self, *args: object, **options: object) -> None:
        sent = services.followup_digest_send()
        self.stdout.write(f"Sent {sent} follow-up digest{'s' if sent != 1 else ''}.")
