"""The outbox: every email to a customer is queued as a Message row, then sent by a job.

``messages_send_due`` (every minute, from beat, and ``manage.py send_due_messages``)
claims due rows with ``SELECT ... FOR UPDATE SKIP LOCKED``, so any number of workers
share the work without sending a row twice. At send time, not when queued, it checks
for each message:

1. expiry: a message held back past ``expires_at`` is skipped (a survey about an order
   of last spring is no longer worth asking);
2. the address: no email, or not a valid one, is a skip;
3. consent for the kind's purpose (marketing email or surveys): withdrawn by the
   unsubscribe link is "unsubscribed", never given or withdrawn otherwise "no consent".
   Transactional mail needs no consent;
4. the contact limit: at most ``CONTACT_LIMIT_MESSAGES`` marketing + survey messages per
   customer in any ``CONTACT_LIMIT_DAYS`` days. A message over the limit is postponed to
   the first moment the limit allows (when the oldest message of the window leaves it),
   not dropped. Transactional mail is never capped and does not count.

The limit is checked and the message approved under a per-customer lock (a PostgreSQL
advisory lock; SQLite has one writer), counting approved-but-unsent messages too, so
two workers cannot both squeeze a third message into the window.

Sending is at least once, never knowingly twice: a message is marked SENT right after
the SMTP server accepted it, one at a time. A worker killed between the two leaves the
row SENDING; after ``OUTBOX_SENDING_TIMEOUT`` it is sent again with the same Message-ID
(so mail clients fold the rare duplicate). Temporary SMTP errors (4xx, a dropped
connection) retry with exponential backoff up to ``OUTBOX_MAX_ATTEMPTS``; permanent
ones (5xx) end FAILED at once with the server's answer.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import smtplib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import validate_email
from django.db import connection, transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import timezone, translation

from campaigns.models import CAPPED_KINDS, KIND_PURPOSE, Message, MessageKind
from campaigns.tokens import unsubscribe_token, unsubscribe_url
from customers.models import ConsentEvent, Customer, Order

logger = logging.getLogger(__name__)

Status = Message.Status
Skip = Message.SkipReason


@dataclass
class SendReport:
    sent: int = 0
    skipped: int = 0
    postponed: int = 0
    retrying: int = 0
    failed: int = 0
    requeued_stale: int = 0
    skip_reasons: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


# --- Queueing --------------------------------------------------------------------------


def message_queue(
    *,
    customer: Customer | int,
    kind: str,
    template: str,
    context: dict[str, Any] | None = None,
    dedupe_key: str | None = None,
    send_after: dt.datetime | None = None,
    expires_at: dt.datetime | None = None,
) -> Message:
    """Queue one message; with a ``dedupe_key`` queued at most once (the first row wins)."""
    if kind not in MessageKind.values:
        raise ValueError(f"unknown message kind {kind!r}")
    customer_id = customer if isinstance(customer, int) else customer.pk
    fields = {
        "customer_id": customer_id,
        "kind": kind,
        "template": template,
        "context": context or {},
        "send_after": send_after or timezone.now(),
        "expires_at": expires_at,
    }
    if dedupe_key is None:
        return Message.objects.create(**fields)
    message, _ = Message.objects.get_or_create(dedupe_key=dedupe_key, defaults=fields)
    return message


def messages_queue_bulk(*, specs: list[dict[str, Any]]) -> dict[str, int]:
    """Queue many messages at once (set-based); each spec takes ``message_queue``'s keywords
    with ``customer`` as an id and a required ``dedupe_key``. Returns key -> message id,
    for the rows created now and those queued before alike."""
    now = timezone.now()
    rows = []
    for spec in specs:
        if not spec.get("dedupe_key"):
            raise ValueError("bulk-queued messages need a dedupe_key")
        if spec["kind"] not in MessageKind.values:
            raise ValueError(f"unknown message kind {spec['kind']!r}")
        rows.append(
            Message(
                customer_id=int(spec["customer"]),
                kind=spec["kind"],
                template=spec["template"],
                context=spec.get("context") or {},
                dedupe_key=spec["dedupe_key"],
                send_after=spec.get("send_after") or now,
                expires_at=spec.get("expires_at"),
            )
        )
    keys = [r.dedupe_key for r in rows]
    ids: dict[str, int] = {}
    with transaction.atomic():
        if connection.vendor == "postgresql":
            for start in range(0, len(rows), 20_000):
                _insert_unnest(rows[start : start + 20_000])
        else:
            Message.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True)
        for start in range(0, len(keys), 5000):
            part = keys[start : start + 5000]
            ids.update(Message.objects.filter(dedupe_key__in=part).values_list("dedupe_key", "id"))
    return ids


def _insert_unnest(rows: list[Message]) -> None:
    """One INSERT ... SELECT FROM unnest(column arrays) ON CONFLICT DO NOTHING per chunk.

    bulk_create spent most of its time building a 20,000-row VALUES list with a JSON
    literal each (about 50 s for 100,000 survey invitations); column arrays go over as
    binary parameters in one round trip.
    """
    sql = (
        f"INSERT INTO {Message._meta.db_table} (customer_id, kind, template, context,"  # noqa: S608
        " dedupe_key, status, send_after, expires_at, attempts, to_email, subject,"
        " message_id, skip_reason, postponed, last_error, created_at)"
        " SELECT c, k, t, x::jsonb, d, %s, s, e, 0, '', '', '', '', 0, '', %s"
        " FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[],"
        " %s::timestamptz[], %s::timestamptz[]) AS u(c, k, t, x, d, s, e)"
        " ON CONFLICT (dedupe_key) DO NOTHING"
    )
    params = [
        Message.Status.PENDING,
        timezone.now(),
        [r.customer_id for r in rows],
        [r.kind for r in rows],
        [r.template for r in rows],
        [json.dumps(r.context, cls=DjangoJSONEncoder) for r in rows],
        [r.dedupe_key for r in rows],
        [r.send_after for r in rows],
        [r.expires_at for r in rows],
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def customer_unsubscribe(*, customer_id: int, purpose: str) -> list[str]:
    """Withdraw consent for a purpose (or every outreach purpose) through the link.

    Returns the purposes that changed. A repeat changes nothing and records nothing, so a
    mail client's one-click POST, a scanner and the person can all hit it safely.
    """
    from campaigns.tokens import ALL_PURPOSES
    from customers.services import consent_record

    customer = Customer.objects.filter(pk=customer_id).first()
    if customer is None:
        return []
    wanted = (
        [p for k, p in KIND_PURPOSE.items() if k in CAPPED_KINDS and p]
        if purpose == ALL_PURPOSES
        else [purpose]
    )
    changed = []
    with transaction.atomic():
        Customer.objects.select_for_update().filter(pk=customer_id).first()
        states = _consent_states([customer_id])
        for p in wanted:
            state = states.get((customer_id, p))
            if state is not None and not state.granted:
                continue  # already out
            consent_record(
                customer=customer,
                purpose=p,
                granted=False,
                source=ConsentEvent.Source.UNSUBSCRIBE,
                note="Unsubscribe link",
            )
            changed.append(p)
    return changed


# --- Sending ---------------------------------------------------------------------------


def messages_send_due(*, limit: int | None = None, now: dt.datetime | None = None) -> SendReport:
    """Send what is due, batch by batch, until nothing is due or ``limit`` rows were handled."""
    report = SendReport()
    report.requeued_stale = _requeue_stale(now or timezone.now())
    handled = 0
    batch_size = settings.OUTBOX_BATCH_SIZE
    while limit is None or handled < limit:
        size = batch_size if limit is None else min(batch_size, limit - handled)
        ids = _claim(now=now or timezone.now(), size=size)
        if not ids:
            break
        handled += len(ids)
        _send_batch(ids, report, now=now)
    return report


def _requeue_stale(now: dt.datetime) -> int:
    """Rows a killed worker left SENDING go back to the queue, keeping their Message-ID."""
    cutoff = now - dt.timedelta(seconds=settings.OUTBOX_SENDING_TIMEOUT)
    return Message.objects.filter(status=Status.SENDING, claimed_at__lt=cutoff).update(
        status=Status.PENDING, claimed_at=None, sent_at=None, send_after=now
    )


def _claim(*, now: dt.datetime, size: int) -> list[int]:
    table = Message._meta.db_table
    lock = " FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    # S608: the table name comes from model metadata; values are parameters.
    sql = (
        f"UPDATE {table} SET status = %s, claimed_at = %s WHERE id IN ("  # noqa: S608
        f"SELECT id FROM {table} WHERE status = %s AND send_after <= %s"
        f" ORDER BY send_after, id LIMIT %s{lock}) AND status = %s RETURNING id"
    )
    stamp = connection.ops.adapt_datetimefield_value(now)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [Status.SENDING, stamp, Status.PENDING, stamp, size, Status.PENDING])
        return sorted(row[0] for row in cursor.fetchall())


@dataclass
class _Decision:
    message: Message
    skip: str = ""
    postpone_to: dt.datetime | None = None


def _send_batch(ids: list[int], report: SendReport, *, now: dt.datetime | None) -> None:
    messages = list(
        Message.objects.filter(pk__in=ids).select_related("customer").order_by("send_after", "id")
    )
    with transaction.atomic():
        decisions = _decide(messages, now=now or timezone.now())
        _apply(decisions, report)
    approved = [d.message for d in decisions if not d.skip and d.postpone_to is None]
    if approved:
        _deliver(approved, report)


def _decide(messages: list[Message], *, now: dt.datetime) -> list[_Decision]:
    """Skip, postpone or approve each claimed message, under per-customer locks."""
    customer_ids = sorted({m.customer_id for m in messages})
    _lock_customers(customer_ids)
    consent = _consent_states(customer_ids)
    window = dt.timedelta(days=settings.CONTACT_LIMIT_DAYS)
    limit = settings.CONTACT_LIMIT_MESSAGES
    recent = _recent_capped_sends(customer_ids, since=now - window)
    decisions = []
    for message in messages:
        decision = _Decision(message)
        decisions.append(decision)
        customer = message.customer
        if message.expires_at is not None and message.expires_at <= now:
            decision.skip = Skip.EXPIRED
            continue
        address = (customer.email or "").strip()
        if not address:
            decision.skip = Skip.NO_ADDRESS
            continue
        try:
            validate_email(address)
        except ValidationError:
            decision.skip = Skip.INVALID_ADDRESS
            continue
        purpose = KIND_PURPOSE[message.kind]
        if purpose is not None:
            state = consent.get((customer.pk, purpose))
            if state is None or not state.granted:
                unsubscribed = state is not None and state.source == ConsentEvent.Source.UNSUBSCRIBE
                decision.skip = Skip.UNSUBSCRIBED if unsubscribed else Skip.NO_CONSENT
                continue
        if message.kind in CAPPED_KINDS:
            sent = recent[customer.pk]
            if len(sent) >= limit:
                # the first moment fewer than `limit` sends remain in the window
                decision.postpone_to = sorted(sent)[len(sent) - limit] + window
                decision.postpone_to += dt.timedelta(seconds=1)
                continue
            sent.append(now)
        message.to_email = address
        message.sent_at = now  # provisional: counts against the limit while sending
        message.message_id = message.message_id or _message_id(message)
    return decisions


def _lock_customers(customer_ids: list[int]) -> None:
    if connection.vendor != "postgresql" or not customer_ids:
        return  # SQLite: the IMMEDIATE transaction already serialises writers
    with connection.cursor() as cursor:
        # Sorted, so two workers always take shared customers' locks in the same order.
        cursor.execute(
            "SELECT pg_advisory_xact_lock((%s::bigint << 48) | k)"
            " FROM unnest(%s::bigint[]) AS k ORDER BY k",
            [_LOCK_NAMESPACE, customer_ids],
        )


_LOCK_NAMESPACE = 73  # advisory lock keys of the contact limit: 73 << 48 | customer id


def _consent_states(customer_ids: list[int]) -> dict[tuple[int, str], ConsentEvent]:
    """The latest consent event per (customer, purpose) for these customers."""
    latest: dict[tuple[int, str], ConsentEvent] = {}
    events = (
        ConsentEvent.objects.filter(customer_id__in=customer_ids)
        .only("customer_id", "purpose", "granted", "source", "occurred_at")
        .order_by("customer_id", "purpose", "-occurred_at", "-id")
    )
    for event in events:
        latest.setdefault((event.customer_id, event.purpose), event)
    return latest


def _recent_capped_sends(customer_ids: list[int], *, since: dt.datetime) -> dict[int, list]:
    sends: dict[int, list[dt.datetime]] = defaultdict(list)
    rows = Message.objects.filter(
        customer_id__in=customer_ids,
        kind__in=CAPPED_KINDS,
        status__in=[Status.SENT, Status.SENDING],
        sent_at__gte=since,
    ).values_list("customer_id", "sent_at")
    for customer_id, sent_at in rows:
        sends[customer_id].append(sent_at)
    return sends


def _apply(decisions: list[_Decision], report: SendReport) -> None:
    skipped: dict[str, list[int]] = defaultdict(list)
    postponed: list[Message] = []
    approved: list[Message] = []
    for d in decisions:
        if d.skip:
            skipped[d.skip].append(d.message.pk)
        elif d.postpone_to is not None:
            d.message.status = Status.PENDING
            d.message.send_after = d.postpone_to
            d.message.claimed_at = None
            d.message.postponed = F("postponed") + 1
            postponed.append(d.message)
        else:
            approved.append(d.message)
    for reason, pks in skipped.items():
        Message.objects.filter(pk__in=pks).update(
            status=Status.SKIPPED, skip_reason=reason, claimed_at=None, sent_at=None
        )
        report.skipped += len(pks)
        report.skip_reasons[reason] = report.skip_reasons.get(reason, 0) + len(pks)
    if postponed:
        Message.objects.bulk_update(
            postponed, ["status", "send_after", "claimed_at", "postponed"], batch_size=1000
        )
        report.postponed += len(postponed)
    if approved:
        # approved rows count against the contact limit from now on (see _decide)
        Message.objects.filter(pk__in=[m.pk for m in approved]).update(sent_at=approved[0].sent_at)


def _deliver(messages: list[Message], report: SendReport) -> None:
    """Render and send over one SMTP connection; each result is committed at once."""
    customers = [m.customer for m in messages]
    extras = _personal_context(customers)
    mail = get_connection()
    with _relaxed_commits():
        _deliver_over(mail, messages, extras, report)


@contextlib.contextmanager
def _relaxed_commits():
    """Status updates while sending commit without waiting for the WAL flush.

    Two small commits per message would otherwise wait for an fsync each, which made
    the disk the limit (about 40 messages a second here). A killed worker loses nothing
    this way: the server has the commits. Only a crash of PostgreSQL itself can lose the
    last fraction of a second of SENT marks, and those messages are then sent again,
    with the same Message-ID.
    """
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO off")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")


def _deliver_over(mail, messages: list[Message], extras, report: SendReport) -> None:
    try:
        mail.open()
    except Exception as error:  # server down: the whole batch waits and retries
        for message in messages:
            _retry_or_fail(message, f"connecting: {error!r}", report)
        return
    try:
        renewed = _renew(messages[0]) if messages else False
        for position, message in enumerate(messages):
            following = messages[position + 1] if position + 1 < len(messages) else None
            if not renewed:  # this worker was too slow: another took the row over
                renewed = _renew(following) if following else False
                continue
            try:
                email = _render(message, extras[message.customer_id])
            except Exception as error:  # a template bug: not worth retrying
                logger.exception("rendering message %s failed", message.pk)
                _fail(message, f"rendering: {error!r}", report)
                renewed = _renew(following) if following else False
                continue
            try:
                mail.send_messages([email])
            except smtplib.SMTPResponseException as error:
                if 500 <= error.smtp_code < 600:
                    _fail(message, f"{error.smtp_code} {error.smtp_error!r}", report)
                else:
                    _retry_or_fail(message, f"{error.smtp_code} {error.smtp_error!r}", report)
                renewed = _renew(following) if following else False
                continue
            except smtplib.SMTPRecipientsRefused as error:
                codes = [code for code, _ in error.recipients.values()]
                if codes and all(500 <= c < 600 for c in codes):
                    _fail(message, f"recipient refused: {error.recipients!r}", report)
                else:
                    _retry_or_fail(message, f"recipient refused: {error.recipients!r}", report)
                renewed = _renew(following) if following else False
                continue
            except (smtplib.SMTPException, OSError) as error:
                # the connection is gone: this one retries, the rest go back unattempted
                _retry_or_fail(message, repr(error), report)
                _release(messages[position + 1 :])
                return
            renewed = _sent(message, email.subject, following)
            report.sent += 1
    finally:
        # a failed QUIT after a dropped connection is harmless
        with contextlib.suppress(Exception):
            mail.close()


_TABLE = Message._meta.db_table


def _renew(message: Message) -> bool:
    """Renew this worker's claim on a message right before sending it; False if another
    worker took it over (this one stalled past OUTBOX_SENDING_TIMEOUT): sending it then
    would be sending it twice."""
    return _sent(None, "", message)


def _sent(done: Message | None, subject: str, following: Message | None) -> bool:
    """Mark ``done`` SENT and renew the claim on ``following``, in one statement (one
    commit a message). Returns whether ``following``'s claim was renewed.

    ``sent_at`` stays the approval time that the contact limit counted.
    """
    stamp = timezone.now()
    now = connection.ops.adapt_datetimefield_value(stamp)
    done_id = done.pk if done else None
    next_id = following.pk if following else None
    claim = connection.ops.adapt_datetimefield_value(following.claimed_at) if following else None
    sql = (
        f"UPDATE {_TABLE} SET"  # noqa: S608 - the table name comes from model metadata
        " status = CASE WHEN id = %s THEN %s ELSE status END,"
        " attempts = CASE WHEN id = %s THEN attempts + 1 ELSE attempts END,"
        " subject = CASE WHEN id = %s THEN %s ELSE subject END,"
        " to_email = CASE WHEN id = %s THEN %s ELSE to_email END,"
        " message_id = CASE WHEN id = %s THEN %s ELSE message_id END,"
        " last_error = CASE WHEN id = %s THEN '' ELSE last_error END,"
        " claimed_at = CASE WHEN id = %s THEN NULL ELSE %s END"
        " WHERE id = %s OR (id = %s AND status = %s AND claimed_at = %s) RETURNING id"
    )
    params = [
        done_id, Status.SENT,
        done_id,
        done_id, subject[:300],
        done_id, done.to_email if done else "",
        done_id, done.message_id if done else "",
        done_id,
        done_id, now,
        done_id, next_id, Status.SENDING, claim,
    ]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        touched = {row[0] for row in cursor.fetchall()}
    if following is not None and next_id in touched:
        following.claimed_at = stamp
    return next_id in touched


def _release(messages: Iterable[Message]) -> None:
    pks = [m.pk for m in messages]
    if pks:
        Message.objects.filter(pk__in=pks, status=Status.SENDING).update(
            status=Status.PENDING, claimed_at=None, sent_at=None, send_after=timezone.now()
        )


def _retry_or_fail(message: Message, error: str, report: SendReport) -> None:
    attempts = message.attempts + 1
    if attempts >= settings.OUTBOX_MAX_ATTEMPTS:
        _fail(message, f"gave up after {attempts} attempts: {error}", report)
        return
    delay = min(settings.OUTBOX_RETRY_BASE_SECONDS * 2 ** (attempts - 1), 6 * 3600)
    Message.objects.filter(pk=message.pk).update(
        status=Status.PENDING,
        attempts=attempts,
        claimed_at=None,
        sent_at=None,
        send_after=timezone.now() + dt.timedelta(seconds=delay),
        last_error=error[:2000],
    )
    report.retrying += 1


def _fail(message: Message, error: str, report: SendReport) -> None:
    Message.objects.filter(pk=message.pk).update(
        status=Status.FAILED,
        attempts=F("attempts") + 1,
        claimed_at=None,
        sent_at=None,
        last_error=error[:2000],
    )
    report.failed += 1


# --- Rendering -------------------------------------------------------------------------


def _message_id(message: Message) -> str:
    """The same Message-ID every time the message is sent, so a resend after a crash is
    recognisable as the same email by mail clients."""
    return f"<{message.pk}.{message.created_at:%Y%m%d%H%M%S}.rapport@{_mail_domain()}>"


def _mail_domain() -> str:
    address = settings.DEFAULT_FROM_EMAIL.rsplit("<", 1)[-1].rstrip(">")
    return address.rsplit("@", 1)[-1] or "localhost"


def _personal_context(customers: list[Customer]) -> dict[int, dict[str, Any]]:
    """Name, last order and interests of each customer, in two queries for the batch."""
    ids = [c.pk for c in customers]
    last_orders: dict[int, Order] = {}
    for order in (
        Order.objects.filter(customer_id__in=ids, status=Order.Status.PAID)
        .order_by("customer_id", "-ordered_at")
        .only("customer_id", "ordered_at", "amount", "currency", "product_line")
    ):
        last_orders.setdefault(order.customer_id, order)
    interests: dict[int, list[str]] = defaultdict(list)
    for customer_id, name in Customer.tags.through.objects.filter(customer_id__in=ids).values_list(
        "customer_id", "tag__name"
    ):
        interests[customer_id].append(name)
    return {
        c.pk: {
            "customer": c,
            "first_name": (c.name.split() or [""])[0] if c.name else "",
            "last_order": last_orders.get(c.pk),
            "interests": sorted(interests[c.pk]),
            "site_url": settings.SITE_URL,
        }
        for c in customers
    }


def _language(customer: Customer) -> str:
    available = {code for code, _ in settings.LANGUAGES}
    locale = (customer.locale or "").lower().split("-")[0]
    return locale if locale in available else settings.LANGUAGE_CODE


def _render(message: Message, extra: dict[str, Any]) -> EmailMultiAlternatives:
    customer = message.customer
    headers = {"Message-ID": message.message_id}
    context = {**message.context, **extra}
    purpose = KIND_PURPOSE[message.kind]
    if purpose is not None:
        token = unsubscribe_token(customer_id=customer.pk, purpose=purpose)
        url = unsubscribe_url(token=token)
        context["unsubscribe_url"] = url
        # RFC 2369 + RFC 8058: one-click unsubscribe by POST, and a mailto fallback.
        headers["List-Unsubscribe"] = (
            f"<{url}>, <mailto:{settings.UNSUBSCRIBE_MAILTO}?subject=unsubscribe%20{token}>"
        )
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    with translation.override(_language(customer)):
        subject = render_to_string(f"emails/{message.template}.subject.txt", context)
        text = render_to_string(f"emails/{message.template}.txt", context)
        html = render_to_string(f"emails/{message.template}.html", context)
    email = EmailMultiAlternatives(
        subject=" ".join(subject.split()),
        body=text,
        to=[message.to_email],
        headers=headers,
    )
    email.attach_alternative(html, "text/html")
    return email
