"""The API rate limit: per API key for integrations, per user for sessions.

Two keys made by the same admin are two integrations, each with its own budget.
"""

from __future__ import annotations

from typing import Any

from rest_framework.throttling import UserRateThrottle

from crm.models import ApiKey


class ApiRateThrottle(UserRateThrottle):
    scope = "user"  # the same rate setting (API_THROTTLE_RATE) for keys and sessions

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        if isinstance(request.auth, ApiKey):
            return self.cache_format % {"scope": "key", "ident": request.auth.pk}
        return super().get_cache_key(request, view)
