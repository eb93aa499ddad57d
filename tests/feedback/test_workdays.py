"""Working days: pure, no database."""

import datetime as dt

import pytest

from feedback.workdays import add_working_days, is_working_day

FRIDAY = dt.date(2026, 3, 6)


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        (FRIDAY, 0, FRIDAY),
        (FRIDAY, 1, dt.date(2026, 3, 9)),  # Monday
        (FRIDAY, 2, dt.date(2026, 3, 10)),  # Tuesday
        (dt.date(2026, 3, 7), 2, dt.date(2026, 3, 10)),  # from Saturday
        (dt.date(2026, 3, 8), 1, dt.date(2026, 3, 9)),  # from Sunday
        (dt.date(2026, 3, 2), 5, dt.date(2026, 3, 9)),  # Monday + a working week
        (dt.date(2026, 3, 4), 10, dt.date(2026, 3, 18)),
    ],
)
def test_it_skips_saturdays_and_sundays(start, days, due):
    assert add_working_days(start, days) == due
    assert days == 0 or is_working_day(due)


def test_it_refuses_negative_days():
    with pytest.raises(ValueError, match="negative"):
        add_working_days(FRIDAY, -1)
