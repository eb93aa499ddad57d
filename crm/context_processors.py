from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from crm.roles import user_roles


def navigation(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    roles = user_roles(user) if user is not None and user.is_authenticated else set()
    return {
        "nav_roles": roles,
        "nav_is_admin": "admin" in roles,
        "default_currency": settings.DEFAULT_CURRENCY,
    }
