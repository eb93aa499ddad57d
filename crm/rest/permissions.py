"""The API's default permission: Django model permissions, reads included.

Roles are groups holding model permissions (crm/roles.py), so an endpoint states which
model it exposes and the method decides the codename: GET needs ``view_<model>``, POST
``add_``, PUT/PATCH ``change_``, DELETE ``delete_``. Endpoints never check role names.

A request made with an API key is checked against the key's scopes instead: the model
names the resource (``SCOPE_RESOURCES``) and the method ``read`` or ``write``, so
``GET /api/orders/`` needs ``orders:read``. A model with no resource is closed to keys.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import models
from rest_framework.permissions import SAFE_METHODS, DjangoModelPermissions

from crm.models import ApiKey

# "app_label.model_name" -> the resource of the API key scopes (crm.models.ApiScope).
SCOPE_RESOURCES = {
    "customers.customer": "customers",
    "customers.interaction": "customers",
    "customers.order": "orders",
    "customers.return": "orders",
    "customers.clvrun": "values",
    "customers.customervalue": "values",
}


def required_scope(method: str, model: type[models.Model]) -> str | None:
    resource = SCOPE_RESOURCES.get(model._meta.label_lower)
    if resource is None:
        return None
    return f"{resource}:{'read' if method in SAFE_METHODS else 'write'}"


class ModelPermissions(DjangoModelPermissions):
    """DjangoModelPermissions that also requires ``view_*`` for GET, HEAD and OPTIONS.

    The model is the view's ``permission_model`` (set per action with
    ``@action(..., permission_model=...)`` when one viewset exposes several models),
    or else its queryset's model.
    """

    view_perms = ["%(app_label)s.view_%(model_name)s"]
    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": view_perms,
        "HEAD": view_perms,
        "OPTIONS": view_perms,
    }

    def has_permission(self, request: Any, view: Any) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False  # DRF turns this into 401/403 "not authenticated"
        if isinstance(request.auth, ApiKey):
            scope = required_scope(request.method, self.model_for(view))
            if scope is None or not request.auth.has_scope(scope):
                self.message = (
                    f"This API key lacks the {scope} scope."
                    if scope
                    else "API keys cannot use this endpoint."
                )
                return False
            return True
        perms = self.get_required_permissions(request.method, self.model_for(view))
        return request.user.has_perms(perms)

    @staticmethod
    def model_for(view: Any) -> type[models.Model]:
        model = getattr(view, "permission_model", None)
        if model is None and getattr(view, "queryset", None) is not None:
            model = view.queryset.model
        if model is None:
            raise ImproperlyConfigured(
                f"{type(view).__name__} needs a permission_model (or a queryset) for"
                " ModelPermissions, or its own permission_classes."
            )
        return model
