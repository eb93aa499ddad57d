"""The hourly survey job: find who is due, record one invitation each, queue the emails.

Set-based from end to end, so 100,000 due customers take seconds, not minutes: each
survey's invitations are one ``INSERT ... SELECT ... ON CONFLICT DO NOTHING`` (the
latest due trigger per customer, customers with an address and survey consent,
outside the minimum gap, sampled in SQL), against the (survey, customer, trigger_key)
constraint; then the emails of the new invitations are queued through the outbox in
chunks. Running it twice queues nothing new: the second run finds the same triggers,
and the constraint and the outbox's dedupe keys absorb them.

The outbox decides at send time (consent, unsubscribe, address, contact limit); the
consent filter here only saves queueing emails that would be skipped.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.db.models import (
    BigIntegerField,
    CharField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    Window,
)
from django.db.models.functions import Cast, Concat, RowNumber
from django.utils import timezone

from campaigns.models import Message, MessageKind
from campaigns.services.outbox import messages_queue_bulk
from customers.models import ConsentEvent, ConsentPurpose, Customer, Interaction, Order
from feedback.links import BatchSigner, link_prefix, score_links
from feedback.models import Survey, SurveyInvitation, SurveyResponse

TEMPLATE = "survey_invitation"
DEDUPE_PREFIX = "survey-invitation:"
# Triggers whose delay ran out within this many days are still picked up, so a job that
# did not run for a while (an outage, a deploy) catches up instead of skipping them,
# while a new survey does not ask about every order of the last three years.
DEFAULT_LOOKBACK_DAYS = 7
# "Active" for periodic surveys: a paid order within this many days.
ACTIVE_DAYS = 365
# An invitation held back by the contact limit for longer than this is no longer asked.
MESSAGE_EXPIRES_DAYS = 30
CHUNK = 5000
# Interactions that are a conversation with the customer (a note is not).
CONVERSATION_KINDS = [k for k in Interaction.Kind.values if k != Interaction.Kind.NOTE]


def lookback() -> dt.timedelta:
    return dt.timedelta(days=getattr(settings, "SURVEY_LOOKBACK_DAYS", DEFAULT_LOOKBACK_DAYS))


@dataclass
class QueueReport:
    surveys: int = 0
    invitations: int = 0
    messages: int = 0
    seconds: float = 0.0
    per_survey: dict[int, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


# --- Sampling -----------------------------------------------------------------------
# A deterministic draw per (survey, customer, trigger), computed in SQL so sampling needs
# no round trip: the three ids are mixed into one key modulo the prime 2^31 - 1, then
# scrambled by rounds of multiplication and squaring modulo that prime (non-linear, so
# two surveys draw independent samples; integer arithmetic that SQLite and PostgreSQL
# evaluate identically, every product below 2^63), and the key is kept when its
# bucket 0-99 is below the survey's percentage.
#
# The trigger is part of the key on purpose: with (survey, customer) alone a 10% sample
# would be a fixed panel, asking the same tenth of customers after every order and
# never the rest; with the trigger each order is a fresh draw, and a re-run repeats it.
_PRIME = 2_147_483_647


def _scramble(x0):  # works on ints and on query expressions alike
    x1 = x0 * 48_271 % _PRIME
    x2 = (x1 * x1 + x0) % _PRIME
    x3 = x2 * 69_621 % _PRIME
    x4 = (x3 * x3 + x1) % _PRIME
    return x4 * 100


def sample_bucket(*, survey_id: int, customer_id: int, trigger_id: int) -> int:
    """The bucket 0-99 of a draw; the same formula as the SQL of _sample."""
    key = (customer_id * 1_000_003 + trigger_id * 7_919 + survey_id * 104_729) % _PRIME
    return _scramble(key) // _PRIME


def sampled(*, survey_id: int, customer_id: int, trigger_id: int, percent: int) -> bool:
    if percent >= 100:
        return True
    bucket = sample_bucket(survey_id=survey_id, customer_id=customer_id, trigger_id=trigger_id)
    return bucket < percent


def _bucket_sql(*, survey_id: int, customer: str, trigger: F) -> ExpressionWrapper:
    key = (F(customer) * 1_000_003 + trigger * 7_919 + Value(survey_id * 104_729)) % _PRIME
    # Integer division in both databases: every operand is an integer.
    return ExpressionWrapper(_scramble(key) / _PRIME, output_field=BigIntegerField())


def _sample(qs: QuerySet, survey: Survey, *, customer: str, trigger: object) -> QuerySet:
    if survey.sample_percent >= 100:
        return qs
    bucket = _bucket_sql(survey_id=survey.pk, customer=customer, trigger=trigger)
    return qs.annotate(_bucket=bucket).filter(_bucket__lt=survey.sample_percent)


def surveys_queue_due(
    *, now: dt.datetime | None = None, survey_ids: Iterable[int] | None = None
) -> QueueReport:
    """Queue every active survey's due invitations and their emails (the hourly job)."""
    started = time.perf_counter()
    now = now or timezone.now()
    report = QueueReport()
    surveys = Survey.objects.filter(active=True).order_by("id")
    if survey_ids is not None:
        surveys = surveys.filter(pk__in=list(survey_ids))
    for survey in surveys:
        report.surveys += 1
        # One survey at a time, so the next one's minimum gap sees these invitations.
        created = _insert(_candidates(survey, now), survey=survey, now=now)
        report.per_survey[survey.pk] = created
        report.invitations += created
    report.invitations += _resurveys_insert(now, survey_ids=survey_ids)
    report.messages = invitation_messages_queue(now=now)
    report.seconds = time.perf_counter() - started
    return report


# --- Candidates ---------------------------------------------------------------------


def _latest_surveys_consent(customer: str) -> Subquery:
    return Subquery(
        ConsentEvent.objects.filter(customer_id=OuterRef(customer), purpose=ConsentPurpose.SURVEYS)
        .order_by("-occurred_at", "-id")
        .values("granted")[:1]
    )


def recent_invitation(*, customer: str, since: dt.datetime) -> Exists:
    """An invitation of any survey since ``since`` that was not dropped by the outbox.

    An invitation whose email was skipped (no consent, bad address) or failed never
    reached the customer, so it does not hold back the next survey.
    """
    return Exists(
        SurveyInvitation.objects.filter(customer_id=OuterRef(customer), created_at__gt=since)
        .filter(
            Q(message__isnull=True)
            | ~Q(message__status__in=[Message.Status.SKIPPED, Message.Status.FAILED])
        )
        .values("id")
    )


def _eligible(qs: QuerySet, *, customer: str, gap_since: dt.datetime | None) -> QuerySet:
    """Customers with an address whose latest surveys consent is a grant, outside the gap."""
    prefix = "" if customer == "id" else customer.removesuffix("_id") + "__"
    qs = qs.filter(**{f"{prefix}email__isnull": False}).exclude(**{f"{prefix}email": ""})
    qs = qs.annotate(_surveys_consent=_latest_surveys_consent(customer)).filter(
        _surveys_consent=True
    )
    if gap_since is not None:
        qs = qs.filter(~recent_invitation(customer=customer, since=gap_since))
    return qs


def _latest_per_customer(qs: QuerySet, date_field: str) -> QuerySet:
    return qs.annotate(
        _rank=Window(
            RowNumber(),
            partition_by=[F("customer_id")],
            order_by=[F(date_field).desc(), F("id").desc()],
        )
    ).filter(_rank=1)


def _key(prefix: str, value: object) -> Concat:
    return Concat(Value(prefix), Cast(value, CharField()))


# The invitation columns a candidate query selects, in order (the rest stay NULL).
Columns = tuple[str, ...]


def _candidates(survey: Survey, now: dt.datetime) -> tuple[QuerySet, Columns]:
    """One row per due customer: a queryset, never fetched (_insert runs it inside
    INSERT ... SELECT), and the invitation columns it selects."""
    gap_since = now - dt.timedelta(days=survey.min_gap_days) if survey.min_gap_days else None
    due_before = now - dt.timedelta(days=survey.delay_days)
    window_start = due_before - lookback()
    if survey.trigger == Survey.Trigger.AFTER_ORDER:
        orders = Order.objects.filter(
            status=Order.Status.PAID, ordered_at__gt=window_start, ordered_at__lte=due_before
        )
        orders = _eligible(orders, customer="customer_id", gap_since=gap_since)
        orders = _sample(orders, survey, customer="customer_id", trigger=F("id"))
        rows = _latest_per_customer(orders, "ordered_at").values_list(
            "customer_id", _key("order:", "id"), "id"
        )
        return rows, ("customer_id", "trigger_key", "order_id")
    if survey.trigger == Survey.Trigger.AFTER_INTERACTION:
        talks = Interaction.objects.filter(
            occurred_at__gt=window_start,
            occurred_at__lte=due_before,
            kind__in=CONVERSATION_KINDS,
        ).exclude(direction=Interaction.Direction.INTERNAL)
        talks = _eligible(talks, customer="customer_id", gap_since=gap_since)
        talks = _sample(talks, survey, customer="customer_id", trigger=F("id"))
        rows = _latest_per_customer(talks, "occurred_at").values_list(
            "customer_id", _key("interaction:", "id"), "id", "staff_id"
        )
        return rows, ("customer_id", "trigger_key", "interaction_id", "staff_id")
    return _periodic_candidates(survey, now, gap_since)


def _periodic_candidates(
    survey: Survey, now: dt.datetime, gap_since: dt.datetime | None
) -> tuple[QuerySet, Columns]:
    """Active customers whose turn it is in this survey's period.

    Each customer has a phase in the period (their id modulo its length), and is due in
    the first days of their own phase: the survey's emails spread evenly over the
    period instead of all going out the hour it is created. The period number names the
    trigger, one invitation per customer per period.
    """
    period = survey.period_days
    day = (timezone.localdate(now) - dt.date(1970, 1, 1)).days
    window = max(1, min(period, lookback().days))
    active = Order.objects.filter(
        customer_id=OuterRef("id"),
        status=Order.Status.PAID,
        ordered_at__gte=now - dt.timedelta(days=ACTIVE_DAYS),
    )
    asked_this_period = SurveyInvitation.objects.filter(
        survey=survey, customer_id=OuterRef("id"), created_at__gt=now - dt.timedelta(days=period)
    )
    shifted = Value(day) + F("id") % period
    customers = (
        Customer.objects.filter(Exists(active), ~Exists(asked_this_period))
        .annotate(
            _phase=shifted % period,
            _period=ExpressionWrapper(shifted / period, output_field=BigIntegerField()),
        )
        .filter(_phase__lt=window)
    )
    customers = _eligible(customers, customer="id", gap_since=gap_since)
    customers = _sample(customers, survey, customer="id", trigger=F("_period"))
    return customers.values_list("id", _key("period:", "_period")), ("customer_id", "trigger_key")


# --- Writing ------------------------------------------------------------------------


def _insert(candidates: tuple[QuerySet, Columns], *, survey: Survey, now: dt.datetime) -> int:
    """INSERT ... SELECT the candidates; returns how many are new (the unique constraint
    turns the triggers of earlier runs into no-ops)."""
    rows, columns = candidates
    sql, params = rows.order_by().query.sql_with_params()
    table = SurveyInvitation._meta.db_table
    # S608: names come from model metadata, values are parameters. "WHERE true" lets
    # SQLite parse ON CONFLICT after a SELECT (it could otherwise be a join's ON).
    statement = (
        f"INSERT INTO {table} (survey_id, created_at, {', '.join(columns)})"  # noqa: S608
        f" SELECT %s, %s, c.* FROM ({sql}) c WHERE true ON CONFLICT DO NOTHING"
    )
    stamp = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        cursor.execute(statement, [survey.pk, stamp, *params])
        return max(cursor.rowcount, 0)


def _resurveys_insert(now: dt.datetime, *, survey_ids: Iterable[int] | None) -> int:
    """Ask a detractor again once their follow-up is resolved, where the survey says so.

    Due ``delay_days`` after the resolution (time to judge the fix). Exempt from the
    minimum gap and from sampling: the survey asked for exactly this customer to be
    asked again. A re-survey's own detractor follow-up is not re-surveyed (no loop).
    """
    surveys = Survey.objects.filter(active=True, resurvey_after_resolution=True).order_by("id")
    if survey_ids is not None:
        surveys = surveys.filter(pk__in=list(survey_ids))
    created = 0
    for survey in surveys:  # a handful of surveys, one statement each
        resolved_before = now - dt.timedelta(days=survey.delay_days)
        responses = SurveyResponse.objects.filter(
            survey=survey,
            follow_up__done_at__gt=resolved_before - lookback(),
            follow_up__done_at__lte=resolved_before,
        ).exclude(invitation__trigger_key__startswith="resurvey:")
        responses = _eligible(responses, customer="customer_id", gap_since=None)
        rows = responses.values_list("customer_id", _key("resurvey:", "follow_up_id"))
        created += _insert((rows, ("customer_id", "trigger_key")), survey=survey, now=now)
    return created


def invitation_messages_queue(
    *, now: dt.datetime | None = None, site_url: str | None = None
) -> int:
    """Queue the email of every recent invitation that has none yet; link them.

    Also the recovery path: a run that died between inserting invitations and queueing
    their emails leaves invitations without a message, which the next run queues.
    Returns how many invitations got their message now.
    """
    now = now or timezone.now()
    pending = SurveyInvitation.objects.filter(
        message__isnull=True, created_at__gt=now - lookback(), survey__active=True
    ).order_by("id")
    signer = BatchSigner()
    prefix = link_prefix(site_url)
    expires_at = now + dt.timedelta(days=MESSAGE_EXPIRES_DAYS)
    linked = 0
    last_id = 0
    while True:
        rows = list(
            pending.filter(id__gt=last_id).values_list(
                "id", "customer_id", "survey__name", "survey__question", "survey__comment_prompt"
            )[:CHUNK]
        )
        if not rows:
            return linked
        last_id = rows[-1][0]
        specs = [
            {
                "customer": customer_id,
                "kind": MessageKind.SURVEY,
                "template": TEMPLATE,
                "context": {
                    "survey_name": name,
                    "question": question,
                    "comment_prompt": prompt,
                    "invitation_id": invitation_id,
                    "scores": score_links(signer, invitation_id=invitation_id, prefix=prefix),
                },
                "dedupe_key": f"{DEDUPE_PREFIX}{invitation_id}",
                "send_after": now,
                "expires_at": expires_at,
            }
            for invitation_id, customer_id, name, question, prompt in rows
        ]
        with transaction.atomic():
            linked += link_messages(message_ids=messages_queue_bulk(specs=specs))


def link_messages(*, message_ids: dict[str, int]) -> int:
    """Point invitations at their messages (dedupe key -> message id), in one UPDATE."""
    pairs = [
        (int(key.removeprefix(DEDUPE_PREFIX)), message_id)
        for key, message_id in message_ids.items()
        if key.startswith(DEDUPE_PREFIX)
    ]
    if not pairs:
        return 0
    table = SurveyInvitation._meta.db_table
    if connection.vendor == "postgresql":
        # The pairs as two arrays joined in: one statement, however many rows.
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} t SET message_id = v.m"  # noqa: S608
                " FROM unnest(%s::bigint[], %s::bigint[]) AS v(i, m)"
                " WHERE t.id = v.i AND t.message_id IS NULL",
                [[i for i, _ in pairs], [m for _, m in pairs]],
            )
            return cursor.rowcount
    # Elsewhere each invitation finds its message by its dedupe key (a unique index).
    key = Concat(Value(DEDUPE_PREFIX), Cast(OuterRef("id"), CharField()))
    return SurveyInvitation.objects.filter(
        id__in=[i for i, _ in pairs], message__isnull=True
    ).update(message_id=Subquery(Message.objects.filter(dedupe_key=key).values("id")[:1]))
