from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = "Rapport"

    def ready(self) -> None:
        from crm.roles import roles_sync_after_migrate

        # Roles are data that depends on permissions, which Django itself creates in
        # post_migrate; syncing them there keeps a fresh database usable at once.
        post_migrate.connect(roles_sync_after_migrate, dispatch_uid="crm.roles_sync")
