"""From a block's arrays to database rows: the tables seeding fills, each table's typed
columns with the foreign keys resolved to primary keys, and the rows formatted as COPY
text (PostgreSQL) or parameter tuples (SQLite). Reads model metadata only; no queries.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from customers.demo.params import (
    CHANNELS,
    DEMO_SOURCE,
    DIRECTIONS,
    KINDS,
    LINES,
    MARKETS,
    ORDER_STATUS,
    OUTCOMES,
    SALES_CHANNELS,
)
from customers.models import (
    ConsentEvent,
    Customer,
    FollowUp,
    Interaction,
    Order,
    Return,
)

TABLES = {
    "customer": Customer,
    "tag": Customer.tags.through,
    "consent": ConsentEvent,
    "order": Order,
    "return": Return,
    "interaction": Interaction,
    "followup": FollowUp,
}
LABELS = {
    "customer": "customers",
    "tag": "interest tags",
    "consent": "consent events",
    "order": "orders",
    "return": "returns",
    "interaction": "interactions",
    "followup": "follow-ups",
}
CONSENT_PURPOSES = ("email_marketing", "surveys", "profiling")
CONSENT_HOW = (  # source, note
    ("form", "Sign-up form at checkout"),
    ("unsubscribe", "Unsubscribe link in a newsletter"),
    ("staff", "Asked on the phone to stop marketing email"),
    ("unsubscribe", "Unsubscribe link in a survey invitation"),
)
NULL = r"\N"
Columns = list[tuple[str, str, Any]]  # field name, kind, values


def _labels(options: tuple[str, ...] | list[str], codes: np.ndarray) -> list[str]:
    return np.asarray(options, dtype=object)[codes].tolist()


def _columns(name: str, data: dict[str, Any], ids: dict[str, np.ndarray], ctx: dict) -> Columns:
    """The rows of one table as typed columns, foreign keys resolved to primary keys."""
    own = ids[name]
    cust = ids["customer"]
    staff = np.append(ctx["staff"], -1)  # slot -1 is "nobody"
    if name == "customer":
        market = data["market"]
        emails = [e and e.format(pk) for e, pk in zip(data["email"], own.tolist(), strict=True)]
        return [
            ("id", "int", own),
            ("source", "const", DEMO_SOURCE),
            ("external_id", "fmt:C%08d", own),
            ("email", "text?", emails),
            ("name", "text", data["name"]),
            ("phone", "text", data["phone"]),
            ("locale", "text", _labels([m.locale for m in MARKETS], market)),
            ("country", "text", _labels([m.country for m in MARKETS], market)),
            ("acquisition_channel", "text", _labels([c.code for c in CHANNELS], data["channel"])),
            ("acquired_at", "date", data["acquired_at"]),
            ("loyalty_member_since", "date?", data["loyalty_member_since"]),
            ("created_at", "ts", data["created_at"]),
            ("updated_at", "ts", data["updated_at"]),
        ]  # fmt: skip
    if name == "tag":
        return [
            ("id", "int", own),
            ("customer", "int", cust[data["customer"]]),
            ("tag", "int", ctx["tags"][data["tag"]]),
        ]
    if name == "consent":
        how = data["how"]
        return [
            ("id", "int", own),
            ("customer", "int", cust[data["customer"]]),
            ("purpose", "text", _labels(CONSENT_PURPOSES, data["purpose"])),
            ("granted", "bool", data["granted"]),
            ("source", "text", _labels([h[0] for h in CONSENT_HOW], how)),
            ("note", "text", _labels([h[1] for h in CONSENT_HOW], how)),
            ("occurred_at", "ts", data["occurred_at"]),
            ("recorded_by", "int?", staff[data["staff"]]),
        ]
    if name == "order":
        line = data["line"]
        return [
            ("id", "int", own),
            ("customer", "int", cust[data["customer"]]),
            ("source", "const", DEMO_SOURCE),
            ("external_id", "fmt:O%09d", own),
            ("ordered_at", "ts", data["ordered_at"]),
            ("amount", "money", data["cents"]),
            ("currency", "text", _labels([m.currency for m in MARKETS], data["currency"])),
            ("base_amount", "money", data["base_cents"]),
            ("status", "text", _labels([s[0] for s in ORDER_STATUS], data["status"])),
            ("sales_channel", "text", _labels(SALES_CHANNELS, data["sales_channel"])),
            ("product_line", "text", _labels([ln.name for ln in LINES], line)),
            ("guarantee_days", "int", np.array([ln.guarantee_days for ln in LINES])[line]),
            ("created_at", "ts", data["created_at"]),
            ("updated_at", "ts", data["updated_at"]),
        ]
    if name == "return":
        return [
            ("id", "int", own),
            ("order", "int", ids["order"][data["order"]]),
            ("source", "const", DEMO_SOURCE),
            ("external_id", "fmt:R%08d", own),
            ("returned_at", "ts", data["returned_at"]),
            ("amount", "money", data["cents"]),
            ("base_amount", "money", data["base_cents"]),
            ("reason", "text", data["reason"].tolist()),
            ("created_at", "ts", data["created_at"]),
        ]
    if name == "interaction":
        return [
            ("id", "int", own),
            ("customer", "int", cust[data["customer"]]),
            ("staff", "int?", staff[data["staff"]]),
            ("source", "const", "rapport"),  # logged by staff in Rapport itself
            ("external_id", "null", None),
            ("kind", "text", _labels(KINDS, data["kind"])),
            ("direction", "text", _labels(DIRECTIONS, data["direction"])),
            ("occurred_at", "ts", data["occurred_at"]),
            ("summary", "text", data["summary"]),
            ("outcome", "text", _labels(OUTCOMES, data["outcome"])),
            ("created_at", "ts", data["created_at"]),
        ]
    done = data["done_at"] >= 0
    assigned = staff[data["staff"]]
    return [
        ("id", "int", own),
        ("customer", "int", cust[data["customer"]]),
        ("interaction", "int", ids["interaction"][data["interaction"]]),
        ("reason", "text", data["reason"]),
        ("due_on", "date", data["due_on"]),
        ("priority", "int", data["priority"]),
        ("assigned_to", "int?", assigned),
        ("created_at", "ts", data["created_at"]),
        ("done_at", "ts?", data["done_at"]),
        ("done_by", "int?", np.where(done, assigned, -1)),
        ("resolution", "text", data["resolution"]),
    ]


def _iso(seconds: np.ndarray, sep: str = "T") -> list[str]:
    text = np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s").tolist()
    return text if sep == "T" else [s.replace("T", sep) for s in text]


def _dates(days: np.ndarray) -> list[str]:
    return np.datetime_as_string(days.astype("datetime64[D]")).tolist()


def _nullable(values: list[Any], null: np.ndarray, empty: Any) -> list[Any]:
    return [empty if gone else v for v, gone in zip(values, null.tolist(), strict=True)]


def _pg_column(kind: str, v: Any, n: int) -> tuple[str, list[list[Any]]]:
    """A piece of the COPY text row format and the value lists it consumes."""
    if kind == "int":
        return "%d", [v.tolist()]
    if kind == "const":
        return v.replace("%", "%%"), []
    if kind == "null":
        return NULL.replace("%", "%%"), []
    if kind.startswith("fmt:"):
        return kind[4:], [v.tolist()]
    if kind == "money":
        return "%d.%02d", [(v // 100).tolist(), (v % 100).tolist()]
    if kind == "ts":
        return "%s+00", [_iso(v)]
    if kind == "date":
        return "%s", [_dates(v)]
    if kind == "bool":
        return "%s", [np.where(v, "t", "f").tolist()]
    if kind == "text":
        return "%s", [list(v)]
    if kind == "text?":
        return "%s", [[NULL if s is None else s for s in v]]
    if kind == "int?":
        return "%s", [_nullable(v.tolist(), v < 0, NULL)]
    if kind == "ts?":
        return "%s", [_nullable([s + "+00" for s in _iso(v)], v < 0, NULL)]
    if kind == "date?":
        return "%s", [_nullable(_dates(v), v < 0, NULL)]
    raise ValueError(kind)


def _sqlite_column(kind: str, v: Any, n: int) -> list[Any]:
    """Values as Django's SQLite backend stores them (UTC text datetimes, text decimals)."""
    if kind in ("const", "null"):
        return [v] * n
    if kind.startswith("fmt:"):
        return [kind[4:] % x for x in v.tolist()]
    if kind == "money":
        return [f"{c // 100}.{c % 100:02d}" for c in v.tolist()]
    if kind in ("ts", "ts?"):
        return _nullable(_iso(v, " "), v < 0, None)
    if kind in ("date", "date?"):
        return _nullable(_dates(v), v < 0, None)
    if kind == "int?":
        return _nullable(v.tolist(), v < 0, None)
    if kind in ("int", "bool"):
        return v.tolist()
    return list(v)


Prepared = list[tuple[str, list[str], int, Any]]  # table, columns, rows, COPY text or params


def _prepare(key: str, columns: Columns, n: int, pg: bool) -> tuple[str, list[str], int, Any]:
    """Rows as COPY text (PostgreSQL) or parameter tuples; no database access, so it runs
    in the worker thread while the previous chunk is being written."""
    meta = TABLES[key]._meta
    names = [meta.get_field(f).column for f, _, _ in columns]
    if not pg:
        values = [_sqlite_column(kind, v, n) for _, kind, v in columns]
        return key, names, n, list(zip(*values, strict=True))
    pieces = [_pg_column(kind, v, n) for _, kind, v in columns]
    fmt = "\t".join(p[0] for p in pieces) + "\n"
    values = [lst for p in pieces for lst in p[1]]
    step = 50_000
    text = [
        "".join([fmt % row for row in zip(*(v[i : i + step] for v in values), strict=True)])
        for i in range(0, n, step)
    ]
    return key, names, n, text
