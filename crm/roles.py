"""Roles are Django groups with permissions; this module is their single definition.

``roles_sync`` makes the groups match ``ROLE_PERMISSIONS`` (run after every migrate),
so adding a model to an app extends the roles that hold wildcard patterns for it.
Views check permissions (``customers.add_interaction``), never role names.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group, Permission
from django.db import transaction

ADMIN = "admin"
RETENTION = "retention"
SUPPORT = "support"

ROLE_CHOICES = [
    (ADMIN, "Administrator"),
    (RETENTION, "Retention team"),
    (SUPPORT, "Support staff"),
]

# Patterns over "app_label.codename".
ROLE_PERMISSIONS: dict[str, list[str]] = {
    ADMIN: ["*"],
    RETENTION: [
        "customers.*",
        "campaigns.*",
        "feedback.*",
        "!customers.delete_customer",  # erasure is an admin decision (GDPR)
    ],
    SUPPORT: [
        "customers.view_*",
        "customers.change_customer",  # correct contact details on a call
        "customers.add_interaction",
        "customers.change_interaction",
        "customers.add_followup",
        "customers.change_followup",
        "customers.add_consentevent",  # "please stop emailing me", said on the phone
        "campaigns.view_*",  # support reads campaigns but never changes budgets
        "feedback.view_*",
        "feedback.change_followup*",
    ],
}


def _permission_matches(patterns: list[str], key: str) -> bool:
    allowed = any(fnmatchcase(key, p) for p in patterns if not p.startswith("!"))
    denied = any(fnmatchcase(key, p[1:]) for p in patterns if p.startswith("!"))
    return allowed and not denied


def roles_sync() -> None:
    """Create the role groups and give each exactly the permissions its patterns name."""
    permissions = list(Permission.objects.select_related("content_type"))
    with transaction.atomic():
        for role, patterns in ROLE_PERMISSIONS.items():
            group, _ = Group.objects.get_or_create(name=role)
            wanted = [
                p
                for p in permissions
                if _permission_matches(patterns, f"{p.content_type.app_label}.{p.codename}")
            ]
            group.permissions.set(wanted)


def roles_sync_after_migrate(sender: Any, **kwargs: Any) -> None:
    # post_migrate fires once per app that has models, in INSTALLED_APPS order; by the
    # last one, Django has created every permission the patterns can match.
    from django.apps import apps

    last = [c for c in apps.get_app_configs() if c.models_module is not None][-1]
    if sender is last:
        roles_sync()


def user_roles(user: AbstractBaseUser | AnonymousUser) -> set[str]:
    if not user.is_authenticated:
        return set()
    cached = getattr(user, "_rapport_roles", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True))  # type: ignore[attr-defined]
        if user.is_superuser:  # type: ignore[attr-defined]
            cached.add(ADMIN)
        user._rapport_roles = cached  # type: ignore[union-attr]
    return cached
