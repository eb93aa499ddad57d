"""Demo feedback for ``seed_demo``: surveys, a year of invitations, answers and the loop.

Runs after the demo history is written, from the rows in the database: about
``invitations`` invitations (capped, so a million-customer seed spends a second here),
one per customer per 90 days, to customers with an address and survey consent, with
their emails marked sent. Scores follow the customer's story (repeat buyers are more
often promoters, customers with a return or a complaint more often detractors), so the
Feedback page and its comparison by NPS group have something to find. Every detractor
has an urgent follow-up; the older ones are resolved, the latest still open.
Reproducible for a given database and seed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, F, OuterRef, QuerySet, Subquery
from django.utils import timezone

from campaigns.models import Message, MessageKind
from campaigns.services.outbox import messages_queue_bulk
from crm import roles
from customers.models import Customer, FollowUp, Interaction, Order, Return
from feedback.links import BatchSigner, link_prefix, score_links
from feedback.models import Survey, SurveyInvitation, SurveyResponse
from feedback.nps import is_detractor
from feedback.services.queue import (
    CHUNK,
    CONVERSATION_KINDS,
    DEDUPE_PREFIX,
    TEMPLATE,
    _eligible,
    link_messages,
)
from feedback.services.responses import follow_up_reason
from feedback.services.surveys import survey_default_get_or_create, survey_save
from feedback.workdays import add_working_days

DAY = dt.timedelta(days=1)
HISTORY_DAYS = 365
GAP_DAYS = 90
ANSWER_RATE = 0.38
COMMENT_RATE = 0.55

# P(score 0..10) for three kinds of customer story.
SCORE_P = {
    "happy": [0.0, 0.0, 0.0, 0.01, 0.01, 0.02, 0.03, 0.06, 0.12, 0.30, 0.45],
    "neutral": [0.02, 0.02, 0.03, 0.04, 0.05, 0.08, 0.11, 0.20, 0.22, 0.13, 0.10],
    "unhappy": [0.08, 0.07, 0.08, 0.09, 0.10, 0.11, 0.11, 0.12, 0.10, 0.08, 0.06],
}
COMMENTS = {
    "promoter": [
        "Fast delivery and the size was right the first time.",
        "Friendly help on the phone, sorted in five minutes.",
        "Third order this year, always well packed.",
        "Good quality for the price. Already recommended you to my sister.",
        "The boots are excellent after two months of daily walks.",
        "Clear return policy, that is why I keep coming back.",
    ],
    "passive": [
        "Fine overall, delivery took a bit longer than promised.",
        "Good products, the website could be easier on the phone.",
        "OK, but shipping costs are high for small orders.",
        "Nothing special, nothing wrong.",
        "Would like more sizes in stock.",
    ],
    "detractor": [
        "The parcel arrived damaged and nobody answered my email for a week.",
        "Refund still not on my account after three weeks.",
        "Wrong size sent twice.",
        "The jacket leaked in the first rain.",
        "Customer service kept me on hold for 40 minutes.",
        "Charged twice for one order.",
        "Delivery was a week late without any message.",
    ],
}
RESOLUTIONS = [
    "Called, apologised, sent a replacement",
    "Refund confirmed with billing, customer informed",
    "Explained the delay, gave a 15% voucher",
    "Left a voicemail and sent an email",
    "Customer happy with the exchange",
]


@dataclass
class FeedbackDemoReport:
    surveys: int = 0
    invitations: int = 0
    responses: int = 0
    follow_ups: int = 0

    def summary(self) -> str:
        return (
            f"{self.surveys} surveys, {self.invitations:,} survey invitations, "
            f"{self.responses:,} answers, {self.follow_ups:,} detractor follow-ups"
        )


def demo_surveys(*, created_at: dt.datetime) -> list[Survey]:
    purchase, _ = survey_default_get_or_create()
    conversation = Survey.objects.filter(name="After a conversation with us").first()
    if conversation is None:
        conversation = survey_save(
            survey=Survey(
                name="After a conversation with us",
                trigger=Survey.Trigger.AFTER_INTERACTION,
                delay_days=3,
                sample_percent=50,
                question="How likely are you to recommend us, after talking to our team?",
            )
        )
    Survey.objects.filter(pk__in=[purchase.pk, conversation.pk]).update(created_at=created_at)
    return [purchase, conversation]


def feedback_demo_seed(
    *, seed: int = 42, end: dt.datetime | None = None, invitations: int = 2400
) -> FeedbackDemoReport:
    """Write the demo feedback; does nothing when invitations already exist."""
    report = FeedbackDemoReport()
    if SurveyInvitation.objects.exists():
        return report
    end = end or timezone.now()
    start = end - HISTORY_DAYS * DAY
    rng = np.random.default_rng(seed)
    with transaction.atomic():
        purchase, conversation = demo_surveys(created_at=start - 30 * DAY)
        report.surveys = 2
        triggers = _triggers(purchase, conversation, start, end, invitations)
        if not triggers:
            return report
        invited = _invite(triggers, end)
        report.invitations = len(invited)
        answers = _answer(invited, rng, end)
        report.responses = len(answers)
        report.follow_ups = _close_the_loop(answers, rng, end)
    return report


@dataclass
class _Trigger:
    survey: Survey
    customer_id: int
    at: dt.datetime  # when the invitation was sent
    order_id: int | None = None
    interaction_id: int | None = None
    staff_id: int | None = None


def _triggers(
    purchase: Survey, conversation: Survey, start: dt.datetime, end: dt.datetime, cap: int
) -> list[_Trigger]:
    """Paid orders and conversations of the last year, thinned to about ``cap``, one
    invitation per customer per GAP_DAYS."""
    orders = Order.objects.filter(
        status=Order.Status.PAID,
        ordered_at__gte=start - purchase.delay_days * DAY,
        ordered_at__lt=end - purchase.delay_days * DAY,
    )
    talks = Interaction.objects.filter(
        kind__in=CONVERSATION_KINDS,
        staff__isnull=False,
        occurred_at__gte=start - conversation.delay_days * DAY,
        occurred_at__lt=end - conversation.delay_days * DAY,
    ).exclude(direction=Interaction.Direction.INTERNAL)
    # Every k-th row by id, picked before the per-row consent checks: deterministic,
    # spread over the year, and bounded work at any size of database.
    orders = _every(orders, orders.count() // max(1, int(cap * 0.75)))
    talks = _every(talks, talks.count() // max(1, int(cap * 0.25)))
    orders = _eligible(orders, customer="customer_id", gap_since=None)
    talks = _eligible(talks, customer="customer_id", gap_since=None)
    found = [
        _Trigger(purchase, c, at + purchase.delay_days * DAY, order_id=i)
        for i, c, at in orders.order_by("id").values_list("id", "customer_id", "ordered_at")
    ] + [
        _Trigger(conversation, c, at + conversation.delay_days * DAY, interaction_id=i, staff_id=s)
        for i, c, at, s in talks.order_by("id").values_list(
            "id", "customer_id", "occurred_at", "staff_id"
        )
    ]
    found.sort(key=lambda t: (t.customer_id, t.at))
    kept, last = [], {}
    for t in found:
        if t.customer_id in last and t.at - last[t.customer_id] < GAP_DAYS * DAY:
            continue
        last[t.customer_id] = t.at
        kept.append(t)
    return kept


def _every(qs: QuerySet, step: int) -> QuerySet:
    if step <= 1:
        return qs
    return qs.annotate(_slot=F("id") % step).filter(_slot=0)


def _invite(triggers: list[_Trigger], end: dt.datetime) -> list[tuple[SurveyInvitation, _Trigger]]:
    rows = [
        SurveyInvitation(
            survey=t.survey,
            customer_id=t.customer_id,
            trigger_key=f"order:{t.order_id}" if t.order_id else f"interaction:{t.interaction_id}",
            order_id=t.order_id,
            interaction_id=t.interaction_id,
            staff_id=t.staff_id,
            created_at=t.at,
        )
        for t in triggers
    ]
    created = SurveyInvitation.objects.bulk_create(rows, batch_size=2000)
    signer, prefix = BatchSigner(), link_prefix()
    specs = [
        {
            "customer": inv.customer_id,
            "kind": MessageKind.SURVEY,
            "template": TEMPLATE,
            "context": {
                "survey_name": inv.survey.name,
                "question": inv.survey.question,
                "comment_prompt": inv.survey.comment_prompt,
                "invitation_id": inv.pk,
                "scores": score_links(signer, invitation_id=inv.pk, prefix=prefix),
            },
            "dedupe_key": f"{DEDUPE_PREFIX}{inv.pk}",
            "send_after": inv.created_at,
            "expires_at": inv.created_at + 30 * DAY,
        }
        for inv in created
    ]
    for start in range(0, len(specs), CHUNK):
        link_messages(message_ids=messages_queue_bulk(specs=specs[start : start + CHUNK]))
    # History: these went out when they were due (the demo does not email anyone).
    Message.objects.filter(
        dedupe_key__startswith=DEDUPE_PREFIX, status=Message.Status.PENDING
    ).update(
        status=Message.Status.SENT,
        sent_at=F("send_after"),
        to_email=Subquery(Customer.objects.filter(pk=OuterRef("customer_id")).values("email")[:1]),
        subject="How likely are you to recommend us?",
        attempts=1,
    )
    return list(zip(created, triggers, strict=True))


HAPPY_OUTCOMES = {
    Interaction.Outcome.RESOLVED,
    Interaction.Outcome.POSITIVE,
    Interaction.Outcome.SALE,
}
UNHAPPY_OUTCOMES = {Interaction.Outcome.COMPLAINT, Interaction.Outcome.NO_ANSWER}


def _moods(customer_ids: list[int]) -> dict[int, str]:
    """Regulars are happy; occasional buyers who complained or send much back are not;
    the rest are in between. (The demo's story: bonded customers are worth more, as the
    article says; the Feedback page measures whether a real shop's data agree.)"""
    orders = dict(
        Order.objects.filter(customer_id__in=customer_ids, status=Order.Status.PAID)
        .values("customer_id")
        .annotate(n=Count("id"))
        .values_list("customer_id", "n")
    )
    returns = dict(
        Return.objects.filter(order__customer_id__in=customer_ids)
        .values("order__customer_id")
        .annotate(n=Count("id"))
        .values_list("order__customer_id", "n")
    )
    complained = set(
        Interaction.objects.filter(
            customer_id__in=customer_ids, outcome=Interaction.Outcome.COMPLAINT
        ).values_list("customer_id", flat=True)
    )
    moods = {}
    for c in customer_ids:
        n, r = orders.get(c, 0), returns.get(c, 0)
        if n >= 7:  # a regular: bonded, even after a complaint
            moods[c] = "neutral" if c in complained else "happy"
        elif c in complained or (n <= 3 and r / max(n, 1) >= 0.25):
            moods[c] = "unhappy"
        else:
            moods[c] = "neutral"
    return moods


def _conversation_moods(interaction_ids: list[int]) -> dict[int, str]:
    """After a conversation, how it ended counts most."""
    out = {}
    for pk, outcome in Interaction.objects.filter(pk__in=interaction_ids).values_list(
        "id", "outcome"
    ):
        happy, unhappy = outcome in HAPPY_OUTCOMES, outcome in UNHAPPY_OUTCOMES
        out[pk] = "happy" if happy else "unhappy" if unhappy else "neutral"
    return out


def _answer(
    invited: list[tuple[SurveyInvitation, _Trigger]], rng: np.random.Generator, end: dt.datetime
) -> list[SurveyResponse]:
    moods = _moods(sorted({inv.customer_id for inv, _ in invited}))
    talks = _conversation_moods([inv.interaction_id for inv, _ in invited if inv.interaction_id])
    answered = rng.random(len(invited)) < ANSWER_RATE
    delay_hours = rng.lognormal(np.log(6), 1.0, len(invited))
    commented = rng.random(len(invited)) < COMMENT_RATE
    picks = rng.random(len(invited))
    rows = []
    for k, (inv, t) in enumerate(invited):
        at = t.at + dt.timedelta(hours=float(delay_hours[k]))
        if not answered[k] or at >= end:
            continue
        mood = talks.get(inv.interaction_id) or moods[inv.customer_id]
        score = int(rng.choice(11, p=SCORE_P[mood]))
        group = "detractor" if score <= 6 else "passive" if score <= 8 else "promoter"
        pool = COMMENTS[group]
        rows.append(
            SurveyResponse(
                invitation=inv,
                survey_id=inv.survey_id,
                customer_id=inv.customer_id,
                staff_id=inv.staff_id,
                score=score,
                comment=pool[int(picks[k] * len(pool))] if commented[k] else "",
                responded_at=at,
            )
        )
    return SurveyResponse.objects.bulk_create(rows, batch_size=2000)


def _close_the_loop(
    answers: list[SurveyResponse], rng: np.random.Generator, end: dt.datetime
) -> int:
    detractors = [r for r in answers if is_detractor(r.score)]
    if not detractors:
        return 0
    customer_ids = [r.customer_id for r in detractors]
    last_staff: dict[int, int] = {}
    for customer_id, staff_id in (
        Interaction.objects.filter(customer_id__in=customer_ids, staff__isnull=False)
        .order_by("customer_id", "-occurred_at", "-id")
        .values_list("customer_id", "staff_id")
    ):
        last_staff.setdefault(customer_id, staff_id)
    support = list(
        get_user_model()
        .objects.filter(is_active=True, groups__name=roles.SUPPORT)
        .order_by("id")
        .values_list("id", flat=True)
    )
    hours = rng.lognormal(np.log(20), 0.9, len(detractors))
    resolution = rng.integers(0, len(RESOLUTIONS), len(detractors))
    rows = []
    for k, r in enumerate(detractors):
        done_at = r.responded_at + dt.timedelta(hours=float(hours[k]))
        open_ = done_at >= end - 2 * DAY  # the latest ones are still being worked
        rows.append(
            FollowUp(
                customer_id=r.customer_id,
                interaction_id=r.invitation.interaction_id,
                reason=follow_up_reason(score=r.score, comment=r.comment),
                due_on=add_working_days(timezone.localdate(r.responded_at), 2),
                priority=FollowUp.Priority.URGENT,
                assigned_to_id=last_staff.get(r.customer_id)
                or (support[k % len(support)] if support else None),
                created_at=r.responded_at,
                done_at=None if open_ else done_at,
                done_by_id=None
                if open_
                else last_staff.get(r.customer_id)
                or (support[k % len(support)] if support else None),
                resolution="" if open_ else RESOLUTIONS[int(resolution[k])],
            )
        )
    created = FollowUp.objects.bulk_create(rows, batch_size=2000)
    for r, f in zip(detractors, created, strict=True):
        r.follow_up = f
    SurveyResponse.objects.bulk_update(detractors, ["follow_up"], batch_size=1000)
    return len(created)
