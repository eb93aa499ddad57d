import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

DEMO_USERS = ["admin", "marta", "oleh"]


class Command(BaseCommand):
    help = (
        "Give the demo users (created by seed_demo) fresh generated passwords and print "
        "them. Development only: refuses to run with DEBUG off."
    )

    def handle(self, *args: object, **options: object) -> None:
        if not settings.DEBUG:
            raise CommandError("demo_login resets passwords; it only runs with DEBUG on.")
        users = get_user_model().objects.filter(username__in=DEMO_USERS).prefetch_related("groups")
        if not users:
            raise CommandError("No demo users: run `manage.py seed_demo` first.")
        self.stdout.write("")
        self.stdout.write("  Log in at http://127.0.0.1:8000 with")
        for user in sorted(users, key=lambda u: DEMO_USERS.index(u.username)):
            password = secrets.token_urlsafe(9)
            user.set_password(password)
            user.save(update_fields=["password"])
            role = ", ".join(g.name for g in user.groups.all()) or "no role"
            self.stdout.write(f"    {user.username:<8} {password:<14} ({role})")
        self.stdout.write("  (new passwords are generated each time `make run` starts)")
        self.stdout.write("")
