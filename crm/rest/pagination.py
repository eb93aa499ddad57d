"""Keyset cursor pagination: no COUNT(*), no OFFSET, stable under inserts.

DRF's CursorPagination positions the cursor on the first ordering field only and skips
ties with an offset capped at 1,000; predicted CLV ties by the thousand (one-time buyers
of the same age get the same prediction), so this cursor holds the values of every
ordering field of the last row and the next page is "rows after that key" in SQL.

A view sets ``cursor_ordering``: fields that are never NULL and unique together, so
ending with the primary key (``("-predicted_clv", "customer_id")``, ``("-started_at",
"-id")``). Responses are ``{"next": url|null, "previous": url|null, "results": [...]}``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Model, Q, QuerySet
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


def _encode_value(value: Any) -> Any:
    if value is None:
        raise ValueError("cursor ordering fields must not be NULL")
    if isinstance(value, bool | int | float | str):
        return value  # JSON floats round-trip exactly (repr)
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()  # the field parses it back when filtering
    if isinstance(value, Decimal):
        return str(value)
    return str(value)


class CursorPagination(BasePagination):
    page_size = PAGE_SIZE
    max_page_size = MAX_PAGE_SIZE
    page_size_query_param = "page_size"
    cursor_query_param = "cursor"
    ordering: Sequence[str] = ("-pk",)

    def paginate_queryset(
        self,
        queryset: QuerySet,
        request: Any,
        view: Any = None,
        *,
        link_params: Mapping[str, object] | None = None,
    ) -> list[Any]:
        """One page of ``queryset``; ``link_params`` are added to the next/previous links
        (e.g. the run a walk started on, so a new run mid-walk does not mix two runs)."""
        self.ordering = tuple(getattr(view, "cursor_ordering", None) or self.ordering)
        self.page_size = self.get_page_size(request)
        self.base_url = request.build_absolute_uri()
        for key, value in (link_params or {}).items():
            self.base_url = replace_query_param(self.base_url, key, value)
        keys, reverse = self.decode_cursor(request)

        order = self._reversed(self.ordering) if reverse else self.ordering
        queryset = queryset.order_by(*order)
        if keys is not None:
            try:  # the fields convert the keys here: a forged cursor fails now, not in SQL
                queryset = queryset.filter(self._after(order, keys))
            except (ValueError, TypeError, DjangoValidationError):
                raise self._invalid_cursor() from None
        rows = list(queryset[: self.page_size + 1])
        more = len(rows) > self.page_size
        self.page = rows[: self.page_size]
        if reverse:
            self.page.reverse()
            self.has_previous, self.has_next = more, True
        else:
            self.has_previous, self.has_next = keys is not None, more
        self.reverse = reverse
        return self.page

    def get_page_size(self, request: Any) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if size < 1:
            raise ValidationError(
                {self.page_size_query_param: [f"A whole number from 1 to {self.max_page_size}."]}
            )
        return min(size, self.max_page_size)

    # --- the cursor -----------------------------------------------------------------------

    def decode_cursor(self, request: Any) -> tuple[list[Any] | None, bool]:
        token = request.query_params.get(self.cursor_query_param)
        if token is None:
            return None, False
        try:
            data = json.loads(base64.urlsafe_b64decode(token.encode("ascii") + b"==="))
            keys, reverse = data["k"], bool(data.get("r", False))
            if not isinstance(keys, list) or len(keys) != len(self.ordering):
                raise ValueError("wrong number of keys")
        except (ValueError, KeyError, TypeError, UnicodeEncodeError, binascii.Error):
            raise self._invalid_cursor() from None
        return keys, reverse

    def _invalid_cursor(self) -> ValidationError:
        return ValidationError(
            {self.cursor_query_param: ["Invalid cursor: use the next or previous link."]}
        )

    def encode_cursor(self, row: Any, *, reverse: bool) -> str:
        data: dict[str, Any] = {"k": [_encode_value(self._value(row, f)) for f in self.ordering]}
        if reverse:
            data["r"] = 1
        raw = json.dumps(data, separators=(",", ":")).encode()
        token = base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
        return replace_query_param(self.base_url, self.cursor_query_param, token)

    @staticmethod
    def _value(row: Any, field: str) -> Any:
        name = field.lstrip("-")
        if isinstance(row, Mapping):
            return row[name]
        if name == "pk" and isinstance(row, Model):
            return row.pk
        return getattr(row, name)

    @staticmethod
    def _reversed(ordering: Sequence[str]) -> tuple[str, ...]:
        return tuple(f[1:] if f.startswith("-") else f"-{f}" for f in ordering)

    @staticmethod
    def _after(order: Sequence[str], keys: Sequence[Any]) -> Q:
        """Rows strictly after ``keys`` in ``order``: (a > x) OR (a = x AND b > y) ...

        Mixed directions rule out a row comparison; the leading range on the first field
        is implied by the OR but lets the planner walk the index from the cursor.
        """
        names = [f.lstrip("-") for f in order]
        ops = ["lt" if f.startswith("-") else "gt" for f in order]
        after = Q()
        for i, (name, op) in enumerate(zip(names, ops, strict=True)):
            equal = {names[j]: keys[j] for j in range(i)}
            after |= Q(**equal, **{f"{name}__{op}": keys[i]})
        return Q(**{f"{names[0]}__{ops[0]}e": keys[0]}) & after

    # --- the response ---------------------------------------------------------------------

    def get_next_link(self) -> str | None:
        if not self.has_next:
            return None
        if not self.page:  # walked back past the first row: start again
            return remove_query_param(self.base_url, self.cursor_query_param)
        return self.encode_cursor(self.page[-1], reverse=False)

    def get_previous_link(self) -> str | None:
        if not self.has_previous or not self.page:
            return None
        return self.encode_cursor(self.page[0], reverse=True)

    def page_data(self, results: Any) -> dict[str, Any]:
        return {
            "next": self.get_next_link(),
            "previous": self.get_previous_link(),
            "results": results,
        }

    def get_paginated_response(self, data: Any) -> Response:
        return Response(self.page_data(data))

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        link = {"type": "string", "nullable": True, "format": "uri"}
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {
                "next": {
                    **link,
                    "description": "The following page; null on the last page.",
                    "example": "https://rapport.example.com/api/clv-runs/?cursor=eyJrIjpbMV19",
                },
                "previous": {
                    **link,
                    "description": "The page before; null on the first page.",
                    "example": None,
                },
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": CURSOR_DESCRIPTION,
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": PAGE_SIZE_DESCRIPTION,
                "schema": {"type": "integer", "minimum": 1, "default": self.page_size},
            },
        ]


CURSOR_DESCRIPTION = "Opaque position from a next or previous link; omit for the first page."
PAGE_SIZE_DESCRIPTION = (
    f"Results per page: default {PAGE_SIZE}, at most {MAX_PAGE_SIZE} (larger values are capped)."
)


def cursor_parameters() -> list[OpenApiParameter]:
    """The paging parameters, for endpoints spectacular does not see as lists (actions)."""
    return [
        OpenApiParameter("cursor", str, OpenApiParameter.QUERY, description=CURSOR_DESCRIPTION),
        OpenApiParameter(
            "page_size", int, OpenApiParameter.QUERY, description=PAGE_SIZE_DESCRIPTION
        ),
    ]
