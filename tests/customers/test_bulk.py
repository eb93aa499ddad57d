import datetime as dt

import numpy as np
import pytest

from customers.bulk import bulk_write
from customers.models import CLVRun, CustomerValue, Segment
from tests.factories import CustomerFactory


def _columns(run_id: int, customer_ids: list[int], next_orders: list[str | None]) -> dict:
    n = len(customer_ids)
    floats = np.linspace(0.1, 0.9, n)
    return {
        "run": np.full(n, run_id),
        "customer": np.array(customer_ids),
        "orders": np.arange(1, n + 1),
        "net_revenue": floats * 100,
        "avg_order_value": floats * 10,
        "purchase_frequency": floats,
        "age_days": np.full(n, 400),
        "days_since_last_order": np.full(n, 3),
        "historic_clv": floats * 50,
        "frequency": np.arange(n),
        "recency": floats * 300,
        "age": np.full(n, 400.0),
        "p_alive": floats,
        "expected_purchases_30": floats,
        "expected_purchases_90": floats * 2,
        "expected_purchases_365": floats * 5,
        "expected_order_value": floats * 12,
        "predicted_clv": floats * 60,
        "expected_next_order": np.array(
            [np.datetime64(d) if d else np.datetime64("NaT") for d in next_orders], "datetime64[D]"
        ),
        "churn_risk": 1 - floats,
        "r_score": np.full(n, 5),
        "f_score": np.full(n, 4),
        "m_score": np.full(n, 3),
        "segment": np.full(n, int(Segment.CHAMPIONS)),
        "previous_segment": np.zeros(n, dtype=np.int64),
    }


@pytest.mark.django_db
def test_it_writes_columns_exactly_including_null_dates():
    run = CLVRun.objects.create(as_of=dt.date(2026, 1, 1))
    customers = CustomerFactory.create_batch(3)
    ids = [c.pk for c in customers]
    written = bulk_write(CustomerValue, _columns(run.pk, ids, ["2026-02-03", None, "2027-12-31"]))
    assert written == 3
    rows = {v.customer_id: v for v in CustomerValue.objects.filter(run=run)}
    assert rows[ids[0]].expected_next_order == dt.date(2026, 2, 3)
    assert rows[ids[1]].expected_next_order is None
    assert rows[ids[2]].expected_next_order == dt.date(2027, 12, 31)
    assert rows[ids[1]].p_alive == pytest.approx(0.5)
    assert rows[ids[2]].orders == 3
    assert rows[ids[0]].segment == Segment.CHAMPIONS
    assert rows[ids[0]].previous_segment == 0


@pytest.mark.django_db
def test_it_refuses_to_write_nan():
    run = CLVRun.objects.create(as_of=dt.date(2026, 1, 1))
    columns = _columns(run.pk, [CustomerFactory().pk], [None])
    columns["p_alive"] = np.array([np.nan])
    with pytest.raises(ValueError, match="NaN"):
        bulk_write(CustomerValue, columns)
    assert not CustomerValue.objects.exists()


def test_it_refuses_columns_of_different_lengths():
    with pytest.raises(ValueError, match="differ in length"):
        bulk_write(CustomerValue, {"orders": np.arange(2), "frequency": np.arange(3)})
