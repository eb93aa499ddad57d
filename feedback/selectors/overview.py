"""Reads for the Feedback page: every figure is a GROUP BY in SQL; nps.py does the maths.

The page runs a fixed number of queries whatever the number of responses (tested).
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass

from django.db.models import (
    Avg,
    Case,
    CharField,
    Count,
    Exists,
    FilteredRelation,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import TruncMonth
from django.utils import timezone

from campaigns.models import Message
from customers.models import AcquisitionChannel, CLVRun, FollowUp, Order, Segment
from customers.selectors.value import clv_run_current
from feedback.models import SurveyInvitation, SurveyResponse
from feedback.nps import (
    DETRACTOR,
    GROUP_LABELS,
    GROUPS,
    NPS,
    PASSIVE,
    PASSIVE_MIN,
    PROMOTER,
    PROMOTER_MIN,
    nps_from_counts,
    relative_difference,
)

CURRENT_DAYS = 90  # "NPS now": the last 90 days, against the 90 days before
HISTORY_MONTHS = 12  # the chart and the breakdowns

# The article's figures, shown next to the user's own.
ARTICLE_CLV_LIFT = 3.06  # emotionally bonded customers: 306% higher lifetime value
ARTICLE_RECOMMEND_BONDED = 0.71  # recommend the brand 71% of the time...
ARTICLE_RECOMMEND_AVERAGE = 0.45  # ...against 45% on average


def _counts() -> dict[str, Count]:
    return {
        "promoters": Count("id", filter=Q(score__gte=PROMOTER_MIN)),
        "passives": Count("id", filter=Q(score__gte=PASSIVE_MIN, score__lt=PROMOTER_MIN)),
        "detractors": Count("id", filter=Q(score__lt=PASSIVE_MIN)),
    }


def _nps(row: dict) -> NPS:
    return nps_from_counts(row["promoters"], row["passives"], row["detractors"])


def _group_case() -> Case:
    return Case(
        When(score__gte=PROMOTER_MIN, then=Value(PROMOTER)),
        When(score__gte=PASSIVE_MIN, then=Value(PASSIVE)),
        default=Value(DETRACTOR),
        output_field=CharField(),
    )


def responses(*, survey_id: int | None = None) -> QuerySet[SurveyResponse]:
    qs = SurveyResponse.objects.all()
    return qs.filter(survey_id=survey_id) if survey_id is not None else qs


def history_start(today: dt.date) -> dt.datetime:
    """The first instant of the month HISTORY_MONTHS - 1 months before this one."""
    year, month = today.year, today.month - (HISTORY_MONTHS - 1)
    while month < 1:
        month += 12
        year -= 1
    return dt.datetime.combine(dt.date(year, month, 1), dt.time(), timezone.get_current_timezone())


@dataclass(frozen=True)
class Headline:
    current: NPS
    previous: NPS
    days: int

    @property
    def change(self) -> float | None:
        if self.current.score is None or self.previous.score is None:
            return None
        return self.current.score - self.previous.score


def nps_headline(*, now: dt.datetime, survey_id: int | None = None) -> Headline:
    """NPS over the last CURRENT_DAYS days and the same span before, in one query."""
    since = now - dt.timedelta(days=CURRENT_DAYS)
    before = since - dt.timedelta(days=CURRENT_DAYS)
    current, previous = (
        Q(responded_at__gte=since),
        Q(responded_at__gte=before, responded_at__lt=since),
    )
    aggregates = {}
    for prefix, period in (("c_", current), ("p_", previous)):
        for name, count in _counts().items():
            aggregates[prefix + name] = Count("id", filter=count.filter & period)
    row = responses(survey_id=survey_id).filter(responded_at__lt=now).aggregate(**aggregates)
    return Headline(
        current=_nps({k[2:]: v for k, v in row.items() if k.startswith("c_")}),
        previous=_nps({k[2:]: v for k, v in row.items() if k.startswith("p_")}),
        days=CURRENT_DAYS,
    )


@dataclass(frozen=True)
class MonthRow:
    month: dt.date
    nps: NPS


def nps_by_month(*, today: dt.date, survey_id: int | None = None) -> list[MonthRow]:
    """The last HISTORY_MONTHS calendar months, oldest first; months without answers too."""
    start = history_start(today)
    rows = (
        responses(survey_id=survey_id)
        .filter(responded_at__gte=start)
        .annotate(month=TruncMonth("responded_at"))
        .values("month")
        .annotate(**_counts())
        .order_by("month")
    )
    found = {_as_date(r["month"]): _nps(r) for r in rows}
    months, day = [], start.date()
    for _ in range(HISTORY_MONTHS):
        months.append(MonthRow(day, found.get(day, nps_from_counts(0, 0, 0))))
        day = (day + dt.timedelta(days=32)).replace(day=1)
    return months


def _as_date(value: dt.date | dt.datetime) -> dt.date:
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value


def score_distribution(*, since: dt.datetime, survey_id: int | None = None) -> list[dict]:
    """Answers per score 0-10 since ``since``."""
    counts = dict(
        responses(survey_id=survey_id)
        .filter(responded_at__gte=since)
        .values("score")
        .annotate(n=Count("id"))
        .values_list("score", "n")
    )
    total = sum(counts.values())
    return [
        {
            "score": s,
            "n": counts.get(s, 0),
            "share": counts.get(s, 0) / total if total else 0.0,
            "group": DETRACTOR if s < PASSIVE_MIN else PASSIVE if s < PROMOTER_MIN else PROMOTER,
        }
        for s in range(11)
    ]


def latest_comments(*, limit: int = 10, survey_id: int | None = None) -> list[SurveyResponse]:
    return list(
        responses(survey_id=survey_id)
        .exclude(comment="")
        .select_related("customer", "survey", "staff", "follow_up")
        .order_by("-responded_at", "-id")[:limit]
    )


@dataclass(frozen=True)
class BreakdownRow:
    key: object
    label: str
    nps: NPS


def _breakdown(qs: QuerySet, field: str, labels: dict) -> list[BreakdownRow]:
    rows = qs.values(field).annotate(**_counts())
    out = [BreakdownRow(r[field], labels.get(r[field], str(r[field])), _nps(r)) for r in rows]
    return sorted(out, key=lambda r: (-r.nps.n, r.label))


def nps_by_segment(
    *, since: dt.datetime, run: CLVRun | None, survey_id: int | None = None
) -> list[BreakdownRow]:
    """By the customer's segment in the current value run (None: no run yet)."""
    if run is None:
        return []
    qs = (
        responses(survey_id=survey_id)
        .filter(responded_at__gte=since)
        .annotate(
            cv=FilteredRelation("customer__values", condition=Q(customer__values__run_id=run.pk))
        )
    )
    labels = {**dict(Segment.choices), None: "Not in the run"}
    return _breakdown(qs, "cv__segment", labels)


def nps_by_channel(*, since: dt.datetime, survey_id: int | None = None) -> list[BreakdownRow]:
    qs = responses(survey_id=survey_id).filter(responded_at__gte=since)
    return _breakdown(qs, "customer__acquisition_channel", dict(AcquisitionChannel.choices))


def nps_by_staff(*, since: dt.datetime, survey_id: int | None = None) -> list[BreakdownRow]:
    """By the staff member of the interaction the survey followed (after-interaction surveys)."""
    qs = responses(survey_id=survey_id).filter(responded_at__gte=since, staff__isnull=False)
    rows = qs.values("staff_id", "staff__first_name", "staff__last_name", "staff__username")
    out = []
    for r in rows.annotate(**_counts()):
        name = f"{r['staff__first_name']} {r['staff__last_name']}".strip() or r["staff__username"]
        out.append(BreakdownRow(r["staff_id"], name, _nps(r)))
    return sorted(out, key=lambda r: (-r.nps.n, r.label))


@dataclass(frozen=True)
class ResponseRate:
    invitations: int
    sent: int
    answered: int

    @property
    def rate(self) -> float | None:
        return self.answered / self.sent if self.sent else None


def response_rate(*, since: dt.datetime, survey_id: int | None = None) -> ResponseRate:
    """Answers per invitation emailed, for the invitations created since ``since``."""
    qs = SurveyInvitation.objects.filter(created_at__gte=since)
    if survey_id is not None:
        qs = qs.filter(survey_id=survey_id)
    sent = Q(message__status=Message.Status.SENT)
    row = qs.aggregate(
        invitations=Count("id"),
        sent=Count("id", filter=sent),
        answered=Count("response", filter=sent),
    )
    return ResponseRate(**row)


@dataclass(frozen=True)
class LoopStatus:
    open: int
    overdue: int
    resolved: int
    resolved_on_time: int
    median_hours_to_contact: float | None
    detractors: int

    @property
    def on_time_share(self) -> float | None:
        return self.resolved_on_time / self.resolved if self.resolved else None


def loop_status(*, since: dt.datetime, today: dt.date, survey_id: int | None = None) -> LoopStatus:
    """Open and overdue detractor follow-ups now; time to first contact since ``since``.

    First contact is the follow-up being done: staff close it once they have reached
    the customer.
    """
    loop = FollowUp.objects.filter(survey_response__isnull=False)
    if survey_id is not None:
        loop = loop.filter(survey_response__survey_id=survey_id)
    backlog = loop.aggregate(
        open=Count("id", filter=Q(done_at__isnull=True)),
        overdue=Count("id", filter=Q(done_at__isnull=True, due_on__lt=today)),
    )
    recent = responses(survey_id=survey_id).filter(responded_at__gte=since)
    detractors = recent.filter(score__lt=PASSIVE_MIN).count()
    # A column of (answered, contacted, due) per resolved follow-up: the median needs
    # them all, and there is one per detractor, not per customer.
    pairs = recent.filter(follow_up__done_at__isnull=False).values_list(
        "responded_at", "follow_up__done_at", "follow_up__due_on"
    )
    hours, on_time = [], 0
    for responded_at, done_at, due_on in pairs:
        hours.append(max((done_at - responded_at).total_seconds(), 0) / 3600)
        on_time += timezone.localdate(done_at) <= due_on
    return LoopStatus(
        open=backlog["open"],
        overdue=backlog["overdue"],
        resolved=len(hours),
        resolved_on_time=on_time,
        median_hours_to_contact=statistics.median(hours) if hours else None,
        detractors=detractors,
    )


@dataclass(frozen=True)
class GroupValue:
    group: str
    label: str
    customers: int
    valued: int  # customers with a value in the current run
    avg_clv: float | None
    repeat_customers: int
    promoters: int  # of them, how many would recommend (score >= 9)

    @property
    def repeat_rate(self) -> float | None:
        return self.repeat_customers / self.customers if self.customers else None


@dataclass(frozen=True)
class ArticleCheck:
    run: CLVRun | None
    groups: list[GroupValue]
    customers: int
    recommend_all: float | None  # share of respondents who would recommend (>= 9)
    recommend_repeat: float | None  # the same among repeat customers
    repeat_customers: int
    promoter_clv_lift: float | None  # promoters' average CLV over passives', minus 1

    article_clv_lift = ARTICLE_CLV_LIFT
    article_recommend_bonded = ARTICLE_RECOMMEND_BONDED
    article_recommend_average = ARTICLE_RECOMMEND_AVERAGE


def article_check(
    *, since: dt.datetime, run: CLVRun | None, survey_id: int | None = None
) -> ArticleCheck:
    """The article's claim on the user's data, one row per NPS group, one query.

    Each customer counts once, in the group of their latest answer since ``since``.
    Repeat customers (two or more paid orders) stand in for the article's "emotionally
    bonded" customers in the recommend-rate comparison.
    """
    later = SurveyResponse.objects.filter(customer_id=OuterRef("customer_id")).filter(
        Q(responded_at__gt=OuterRef("responded_at"))
        | Q(responded_at=OuterRef("responded_at"), id__gt=OuterRef("id"))
    )
    paid_orders = Subquery(
        Order.objects.filter(customer_id=OuterRef("customer_id"), status=Order.Status.PAID)
        .order_by()
        .values("customer_id")
        .annotate(n=Count("id"))
        .values("n"),
        output_field=IntegerField(),
    )
    qs = (
        responses(survey_id=survey_id)
        .filter(responded_at__gte=since)
        .filter(~Exists(later))
        .annotate(nps_group=_group_case(), paid_orders=paid_orders)
    )
    aggregates = {
        "customers": Count("id"),
        "repeat": Count("id", filter=Q(paid_orders__gte=2)),
        "promoters": Count("id", filter=Q(score__gte=PROMOTER_MIN)),
    }
    if run is not None:
        qs = qs.annotate(
            cv=FilteredRelation("customer__values", condition=Q(customer__values__run_id=run.pk))
        )
        aggregates |= {"avg_clv": Avg("cv__predicted_clv"), "valued": Count("cv__id")}
    rows = {r["nps_group"]: r for r in qs.values("nps_group").annotate(**aggregates)}
    groups = [
        GroupValue(
            group=g,
            label=GROUP_LABELS[g],
            customers=rows.get(g, {}).get("customers", 0),
            valued=rows.get(g, {}).get("valued", 0),
            avg_clv=rows.get(g, {}).get("avg_clv"),
            repeat_customers=rows.get(g, {}).get("repeat", 0),
            promoters=rows.get(g, {}).get("promoters", 0),
        )
        for g in GROUPS
    ]
    customers = sum(g.customers for g in groups)
    repeat = sum(g.repeat_customers for g in groups)
    by = {g.group: g for g in groups}
    # Promoters among repeat customers: only the promoter group has scores >= 9.
    repeat_promoters = rows.get(PROMOTER, {}).get("repeat", 0)
    return ArticleCheck(
        run=run,
        groups=groups,
        customers=customers,
        recommend_all=by[PROMOTER].customers / customers if customers else None,
        recommend_repeat=repeat_promoters / repeat if repeat else None,
        repeat_customers=repeat,
        promoter_clv_lift=relative_difference(by[PROMOTER].avg_clv, by[PASSIVE].avg_clv),
    )


@dataclass(frozen=True)
class Overview:
    headline: Headline
    months: list[MonthRow]
    distribution: list[dict]
    comments: list[SurveyResponse]
    by_segment: list[BreakdownRow]
    by_channel: list[BreakdownRow]
    by_staff: list[BreakdownRow]
    rate: ResponseRate
    loop: LoopStatus
    article: ArticleCheck
    run: CLVRun | None
    since: dt.datetime
    today: dt.date

    @property
    def has_answers(self) -> bool:
        return any(m.nps.n for m in self.months) or self.headline.current.n > 0


def feedback_overview(*, now: dt.datetime | None = None, survey_id: int | None = None) -> Overview:
    now = now or timezone.now()
    today = timezone.localdate(now)
    since = history_start(today)
    run = clv_run_current()
    return Overview(
        headline=nps_headline(now=now, survey_id=survey_id),
        months=nps_by_month(today=today, survey_id=survey_id),
        distribution=score_distribution(since=since, survey_id=survey_id),
        comments=latest_comments(survey_id=survey_id),
        by_segment=nps_by_segment(since=since, run=run, survey_id=survey_id),
        by_channel=nps_by_channel(since=since, survey_id=survey_id),
        by_staff=nps_by_staff(since=since, survey_id=survey_id),
        rate=response_rate(since=now - dt.timedelta(days=CURRENT_DAYS), survey_id=survey_id),
        loop=loop_status(since=since, today=today, survey_id=survey_id),
        article=article_check(since=since, run=run, survey_id=survey_id),
        run=run,
        since=since,
        today=today,
    )
