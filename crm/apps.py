from django.apps import AppConfig
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = "Rapport"

    def ready(self) -> None:
        from crm.db import sqlite_unicode_like
        from crm.roles import roles_sync_after_migrate

        connection_created.connect(sqlite_unicode_like, dispatch_uid="crm.sqlite_like")

        # Roles are data that depends on permissions, which Django itself creates in
        # post_migrate; syncing them there keeps a fresh database usable at once.
        post_migrate.connect(roles_sync_after_migrate, dispatch_uid="crm.roles_sync")
