"""Conversations: what support and retention staff talked about with customers, and the
follow-ups they promised. Pure numpy, no database access.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from customers.demo.clock import Clock
from customers.demo.draws import _between, _cum, _pick
from customers.demo.params import (
    ADMIN_SLOT,
    BULK_TOPIC,
    DAY,
    DIRECTIONS,
    KASIA,
    KINDS,
    LINES,
    MARTA,
    OLEH,
    OUTCOMES,
    PRIORITY_HIGH,
    PRIORITY_NORMAL,
    PRIORITY_URGENT,
    RETENTION_TOPIC,
    RETURN_TOPICS,
    ROLE_RETENTION,
    ROLE_SUPPORT,
    TOPICS,
    UA,
)


def interactions(
    rng: np.random.Generator, clock: Clock, first: np.ndarray, market: np.ndarray,
    repeats: np.ndarray, has_return: np.ndarray, b2b: np.ndarray, favourite: np.ndarray,
) -> dict[str, dict[str, Any]]:  # fmt: skip
    """Conversations with support and retention staff, and the follow-ups they promised."""
    n = len(first)
    chance = 0.04 + 0.18 * has_return + 0.02 * np.minimum(np.log1p(repeats), 4) + 0.2 * b2b
    chosen = np.flatnonzero(rng.random(n) < chance)
    per = 1 + rng.poisson(0.4 + 0.15 * np.log1p(repeats[chosen]))
    cust = np.repeat(chosen, per)
    m = len(cust)
    # A third happened in the last six weeks, so the follow-up queue is current.
    recent = rng.random(m) < 0.33
    low = np.where(recent, np.maximum(first[cust], clock.end - 42 * DAY), first[cust])
    at = _between(rng, low, np.full(m, clock.end))
    at = clock.at_time_of_day(
        at, clock.staff, rng.integers(8 * 3600, 18 * 3600 + 1800, m), first[cust], clock.end
    )
    weights = np.tile([tp.weight for tp in TOPICS], (m, 1))
    weights[:, RETURN_TOPICS] *= np.where(has_return[cust], 4.0, 1.0)[:, None]
    weights[:, BULK_TOPIC] *= np.where(b2b[cust], 12.0, 0.3)
    weights[:, RETENTION_TOPIC] *= np.where(repeats[cust] == 0, 1.8, 1.0)
    topic = _pick(rng, _cum(weights))
    kind = np.empty(m, np.int64)
    outcome = np.empty(m, np.int64)
    staff = np.empty(m, np.int64)
    support = np.where(market[cust] == UA, OLEH, np.where(rng.random(m) < 0.75, KASIA, OLEH))
    anyone = rng.choice([ADMIN_SLOT, MARTA, OLEH, KASIA], m, p=[0.05, 0.35, 0.3, 0.3])
    summary = []
    line_names = [ln.name.lower() for ln in LINES]
    days, months, variant = (
        rng.integers(3, 40, m),
        rng.integers(3, 30, m),
        rng.integers(0, 1 << 20, m),
    )
    for j, tp in enumerate(TOPICS):
        idx = np.flatnonzero(topic == j)
        kind[idx] = [
            KINDS.index(k) for k in rng.choice(list(tp.kinds), len(idx), p=list(tp.kinds.values()))
        ]
        outcome[idx] = [
            OUTCOMES.index(o)
            for o in rng.choice(list(tp.outcomes), len(idx), p=list(tp.outcomes.values()))
        ]
        staff[idx] = {ROLE_SUPPORT: support[idx], ROLE_RETENTION: MARTA}.get(tp.role, anyone[idx])
    for i in range(m):
        tp = TOPICS[topic[i]]
        summary.append(
            tp.summaries[variant[i] % len(tp.summaries)].format(
                line=line_names[favourite[cust[i]]], days=days[i], months=months[i]
            )
        )
    direction = np.array([DIRECTIONS.index(TOPICS[j].direction) for j in range(len(TOPICS))])[topic]
    i_created = np.minimum(at + rng.integers(10, 900, m), clock.end - 1)

    # Follow-ups: most conversations that need one get one; old ones are mostly done.
    needs = np.isin(outcome, [OUTCOMES.index("follow_up"), OUTCOMES.index("complaint")])
    has_topic_text = np.array([bool(tp.reasons) for tp in TOPICS])[topic]
    f_idx = np.flatnonzero(has_topic_text & (rng.random(m) < np.where(needs, 0.9, 0.03)))
    complaint = outcome[f_idx] == OUTCOMES.index("complaint")
    day = clock.local_day(at[f_idx], clock.home)
    due = day + np.where(complaint, rng.integers(1, 4, len(f_idx)), rng.integers(2, 11, len(f_idx)))
    end_day = clock.local_day(np.array([clock.end]), clock.home)[0]
    done_p = np.where(due < end_day - 14, 0.995, np.where(due < end_day, 0.75, 0.2))
    done = rng.random(len(f_idx)) < done_p
    deadline = np.minimum((due + 3) * DAY - clock.offset(due * DAY, clock.home), clock.end - 1)
    done_at = np.where(
        done, _between(rng, i_created[f_idx], np.maximum(deadline, i_created[f_idx] + 1)), -1
    )
    priority = np.where(
        complaint,
        np.where(rng.random(len(f_idx)) < 0.15, PRIORITY_URGENT, PRIORITY_HIGH),
        PRIORITY_NORMAL,
    )
    pick = rng.integers(0, 2, len(f_idx))
    f_topics = [TOPICS[j] for j in topic[f_idx]]
    reasons = [tp.reasons[k] for tp, k in zip(f_topics, pick, strict=True)]
    resolutions = [
        tp.resolutions[k] if d else "" for tp, k, d in zip(f_topics, pick, done, strict=True)
    ]
    return {
        "interaction": {
            "customer": cust, "staff": staff, "kind": kind, "direction": direction,
            "occurred_at": at, "summary": summary, "outcome": outcome, "created_at": i_created,
            "_topic": topic,
        },
        "followup": {
            "customer": cust[f_idx], "interaction": f_idx,
            "reason": reasons,
            "due_on": due, "priority": priority, "staff": staff[f_idx],
            "created_at": i_created[f_idx], "done_at": done_at,
            "resolution": resolutions,
        },
    }  # fmt: skip
