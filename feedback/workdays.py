"""Working-day arithmetic for follow-up due dates: pure, no ORM.

Saturdays and Sundays are skipped; public holidays are not known here.
"""

from __future__ import annotations

import datetime as dt

SATURDAY = 5


def is_working_day(day: dt.date) -> bool:
    return day.weekday() < SATURDAY


def add_working_days(start: dt.date, days: int) -> dt.date:
    """The date ``days`` working days after ``start``; 0 is ``start`` itself.

    A follow-up created on a Friday with two working days is due on Tuesday; one
    created on Saturday with two working days is due on Tuesday as well.
    """
    if days < 0:
        raise ValueError("days cannot be negative")
    day = start
    added = 0
    while added < days:
        day += dt.timedelta(days=1)
        if is_working_day(day):
            added += 1
    return day
