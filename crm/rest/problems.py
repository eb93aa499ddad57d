"""Errors as RFC 9457 problem details (``application/problem+json``).

Every error the API returns has ``type``, ``title``, ``status``, ``detail`` and
``instance``; a validation error adds ``errors``, one ``{field, message, code}`` per
problem, with nested fields as dotted paths (``lines.2.amount``) and ``field: null`` for
errors about the request as a whole.

``type`` is a URN (``urn:rapport:problem:not-found``): stable across deployments, so
clients can branch on it, and documented in docs/api.md rather than dereferenced
(RFC 9457 asks clients not to fetch it). A new error is an ``APIException`` subclass
with a ``default_code``; set ``problem_title`` on it when the HTTP phrase is too vague.
"""

from __future__ import annotations

from collections.abc import Iterator
from http import HTTPStatus
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer
from rest_framework.serializers import as_serializer_error
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:rapport:problem:"
API_PREFIX = "/api/"

# Titles are per type, the same for every occurrence; ``detail`` says what happened.
TITLES: dict[str, str] = {
    "validation-error": "Invalid request",
    "parse-error": "Malformed request",
    "not-authenticated": "Not authenticated",
    "authentication-failed": "Authentication failed",
    "permission-denied": "Permission denied",
    "not-found": "Not found",
    "method-not-allowed": "Method not allowed",
    "not-acceptable": "Not acceptable",
    "unsupported-media-type": "Unsupported media type",
    "throttled": "Too many requests",
    "server-error": "Internal server error",
}

# DRF's codes where ours read better; any other code is used as it is.
_CODE_TO_TYPE = {"invalid": "validation-error", "error": "server-error"}


class ProblemJSONRenderer(JSONRenderer):
    media_type = PROBLEM_JSON


def problem_type(code: str) -> str:
    return TYPE_PREFIX + code


def problem(
    *, code: str, status: int, detail: str, instance: str, title: str | None = None
) -> dict[str, Any]:
    return {
        "type": problem_type(code),
        "title": title or TITLES.get(code) or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": instance,
    }


def field_errors(detail: Any, path: tuple[str, ...] = ()) -> Iterator[dict[str, Any]]:
    """Flatten DRF's nested error structure into ``{field, message, code}`` items."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            whole = key in (api_settings.NON_FIELD_ERRORS_KEY, "__all__")
            yield from field_errors(value, path if whole else (*path, str(key)))
    elif isinstance(detail, list):
        for index, item in enumerate(detail):
            # a list of messages belongs to its field; a list of objects is indexed
            nested = isinstance(item, dict | list)
            yield from field_errors(item, (*path, str(index)) if nested else path)
    else:
        yield {
            "field": ".".join(path) or None,
            "message": str(detail),
            "code": getattr(detail, "code", None),
        }


def _as_api_exception(exc: Exception) -> Exception:
    if isinstance(exc, DjangoValidationError):
        # services raise Django's ValidationError; the API reports it like a serializer's
        return exceptions.ValidationError(as_serializer_error(exc))
    if isinstance(exc, Http404):
        return exceptions.NotFound(*exc.args)
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied(*exc.args)
    return exc


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Any:
    """DRF's EXCEPTION_HANDLER: DRF's own handling (headers, rollback), problem body."""
    exc = _as_api_exception(exc)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # unexpected: Django logs it and handler500 answers (server_error)
    assert isinstance(exc, exceptions.APIException)
    request = context["request"]
    code = getattr(exc, "problem_code", None) or _CODE_TO_TYPE.get(
        exc.default_code, exc.default_code.replace("_", "-")
    )
    if isinstance(exc, exceptions.ValidationError):
        errors = list(field_errors(exc.detail))
        body = problem(
            code=code,
            status=response.status_code,
            detail=(
                errors[0]["message"]
                if len(errors) == 1
                else f"The request has {len(errors)} errors; each is listed in errors."
            ),
            instance=request.get_full_path(),
        )
        body["errors"] = errors
    else:
        body = problem(
            code=code,
            status=response.status_code,
            detail=str(exc.detail),
            instance=request.get_full_path(),
            title=getattr(exc, "problem_title", None),
        )
    response.data = body
    # The view's own renderer may be YAML (the schema) or HTML (the docs page); errors are
    # always problem JSON, and finalize_response takes the renderer from the request.
    request.accepted_renderer = ProblemJSONRenderer()
    request.accepted_media_type = PROBLEM_JSON
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: problem JSON under /api/, the usual error page elsewhere.

    Django has already logged the exception (and mailed ADMINS) when this runs.
    """
    if not request.path.startswith(API_PREFIX):
        return defaults.server_error(request)
    body = problem(
        code="server-error",
        status=500,
        detail="Something went wrong on our side; it has been logged.",
        instance=request.get_full_path(),
    )
    return JsonResponse(body, status=500, content_type=PROBLEM_JSON)
