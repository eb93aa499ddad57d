"""OpenAPI additions: the problem-details error responses every endpoint can return.

Added by a drf-spectacular postprocessing hook rather than per view, so a new endpoint
documents its errors without doing anything: 403 always (session not logged in, or a
permission missing), 401 once an authentication class that sends a challenge comes first
(API keys), 404 on paths with a parameter, 400 where there are query parameters or a
body, and 429 (rate limit, with Retry-After).
"""

from __future__ import annotations

from typing import Any

from rest_framework.settings import api_settings

from crm.rest.problems import PROBLEM_JSON, problem_type

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
VALIDATION_REF = {"$ref": "#/components/schemas/ValidationProblem"}

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "An error, as RFC 9457 problem details (application/problem+json).",
    "required": ["type", "title", "status", "detail", "instance"],
    "properties": {
        "type": {
            "type": "string",
            "format": "uri",
            "description": "What kind of problem, e.g. urn:rapport:problem:not-found;"
            " stable, branch on it (see docs/api.md for the list).",
        },
        "title": {"type": "string", "description": "Short summary of the type."},
        "status": {"type": "integer", "description": "The HTTP status code."},
        "detail": {"type": "string", "description": "What went wrong this time."},
        "instance": {
            "type": "string",
            "format": "uri-reference",
            "description": "The request path and query that failed.",
        },
    },
    "example": {
        "type": problem_type("not-found"),
        "title": "Not found",
        "status": 404,
        "detail": "No customer 4711.",
        "instance": "/api/customers/4711/value/",
    },
}

VALIDATION_SCHEMA: dict[str, Any] = {
    "allOf": [
        PROBLEM_REF,
        {
            "type": "object",
            "required": ["errors"],
            "properties": {
                "errors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["field", "message", "code"],
                        "properties": {
                            "field": {
                                "type": "string",
                                "nullable": True,
                                "description": "Dotted path of the field (lines.2.amount);"
                                " null when the error is about the request as a whole.",
                            },
                            "message": {"type": "string"},
                            "code": {
                                "type": "string",
                                "nullable": True,
                                "description": "Machine-readable reason: required, invalid,"
                                " max_value, invalid_choice ...",
                            },
                        },
                    },
                }
            },
        },
    ],
    "example": {
        "type": problem_type("validation-error"),
        "title": "Invalid request",
        "status": 400,
        "detail": "Select a valid choice. done is not one of the available choices.",
        "instance": "/api/clv-runs/?status=done",
        "errors": [
            {
                "field": "status",
                "message": "Select a valid choice. done is not one of the available choices.",
                "code": "invalid_choice",
            }
        ],
    },
}


def _example(code: str, status: int, title: str, detail: str) -> dict[str, Any]:
    return {
        "type": problem_type(code),
        "title": title,
        "status": status,
        "detail": detail,
        "instance": "/api/segments/champions/customers/",
    }


EXAMPLES: dict[str, dict[str, Any]] = {
    "401": _example(
        "not-authenticated",
        401,
        "Not authenticated",
        "Authentication credentials were not provided.",
    ),
    "403": _example(
        "permission-denied",
        403,
        "Permission denied",
        "You do not have permission to perform this action.",
    ),
    "404": _example("not-found", 404, "Not found", "No segment 'vip'."),
    "429": _example(
        "throttled",
        429,
        "Too many requests",
        "Request was throttled. Expected available in 12 seconds.",
    ),
}


def _response(status: str, description: str, ref: dict[str, str], **extra: Any) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": ref}
    if status in EXAMPLES:
        media["example"] = EXAMPLES[status]  # else the schema's own example
    return {"description": description, "content": {PROBLEM_JSON: media}, **extra}


def _challenges_first(request: Any) -> bool:
    classes = api_settings.DEFAULT_AUTHENTICATION_CLASSES
    return bool(classes) and classes[0]().authenticate_header(request) is not None


def add_problem_responses(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    schemas["ValidationProblem"] = VALIDATION_SCHEMA
    challenge = _challenges_first(request)
    for path, item in result.get("paths", {}).items():
        for operation in item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            params = operation.get("parameters", [])
            errors: dict[str, dict[str, Any]] = {}
            if any(p.get("in") == "query" for p in params) or "requestBody" in operation:
                errors["400"] = _response(
                    "400",
                    "Invalid parameters or body (validation-error, parse-error).",
                    VALIDATION_REF,
                )
            if challenge:
                errors["401"] = _response(
                    "401",
                    "Missing or invalid credentials (not-authenticated, authentication-failed).",
                    PROBLEM_REF,
                )
            errors["403"] = _response(
                "403",
                "An API key without the scope, or a session without the permission, this"
                " endpoint needs (permission-denied).",
                PROBLEM_REF,
            )
            if "{" in path:
                errors["404"] = _response("404", "Nothing at this path (not-found).", PROBLEM_REF)
            errors["429"] = _response(
                "429",
                "Too many requests (throttled); retry after Retry-After seconds.",
                PROBLEM_REF,
                headers={
                    "Retry-After": {
                        "schema": {"type": "integer"},
                        "description": "Seconds to wait before retrying.",
                    }
                },
            )
            for status, response in errors.items():
                responses.setdefault(status, response)
            operation["responses"] = dict(sorted(responses.items()))
    return result
