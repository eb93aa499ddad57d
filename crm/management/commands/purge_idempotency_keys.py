from django.core.management.base import BaseCommand

from crm.services import idempotency_keys_purge


class Command(BaseCommand):
    help = "Delete remembered Idempotency-Key responses older than 24 hours (the 03:30 job)."

    def handle(self, *args: object, **options: object) -> None:
        self.stdout.write(f"deleted {idempotency_keys_purge()} expired idempotency keys")
