"""API keys: ``Authorization: Bearer rk_<prefix>_<secret>`` (crm/models.py ApiKey).

Listed first in REST_FRAMEWORK, so its challenge makes "no credentials" a 401 with
``WWW-Authenticate: Bearer``. The request's user is the admin who created the key (for
audit fields such as consent events' recorded_by); what the key may do is its scopes
(crm/rest/permissions.py), not that user's permissions.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from crm import services
from crm.models import ApiKey


class ApiKeyAuthentication(BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Any) -> tuple[Any, ApiKey] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None  # no key: the session may still authenticate
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                "Send the key as Authorization: Bearer <key>, with no spaces in the key."
            )
        try:
            key = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid API key.") from None
        api_key = services.api_key_check(key=key)
        if api_key is None or not api_key.created_by.is_active:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        return api_key.created_by, api_key

    def authenticate_header(self, request: Any) -> str:
        return f'{self.keyword} realm="api"'


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "apiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key from Administration > API keys: rk_<prefix>_<secret>.",
        }
