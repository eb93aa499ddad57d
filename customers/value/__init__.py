"""The customer value engine's maths: pure numpy/scipy, no Django.

- ``bgnbd``: BG/NBD fit (purchase rate and dropout) on frequency / recency / age.
- ``predict``: P(alive), expected purchases over any horizon, next-purchase wait.
- ``gammagamma``: Gamma-Gamma spend fit and expected order value.
- ``clv``: discounted predicted CLV (monthly steps, batched) and the historic CLV.
- ``rfm``: RFM quintile scores and the 11 named segments of the R x F grid.
- ``pipeline``: ``model_stage``, all of the above for one run, as the service calls it.
- ``simulate``: customers drawn from the models, for tests and benchmarks.

BG/NBD "recency" is the age at the last purchase; RFM recency is the time since it.
Functions take the arrays named for the model they serve, so the two never meet.
"""

from customers.value.bgnbd import (
    BGNBDFit,
    BGNBDParams,
    SummaryRows,
    bgnbd_log_likelihood,
    compress_summary,
    fit_bgnbd,
    fit_bgnbd_rows,
)
from customers.value.clv import (
    HistoricValue,
    discounted_purchases,
    historic_value,
    predicted_clv,
    retention_years,
)
from customers.value.errors import ModelFitError
from customers.value.gammagamma import (
    GammaGammaFit,
    GammaGammaParams,
    expected_order_value,
    fit_gamma_gamma,
)
from customers.value.predict import (
    UNIT_DAYS,
    alive_expected_purchases,
    churn_risk,
    days_to_units,
    expected_purchases,
    expected_purchases_at,
    next_purchase_wait,
    p_alive,
)
from customers.value.rfm import (
    BY_CODE,
    BY_SLUG,
    GRID,
    SEGMENTS,
    RFMScores,
    Segment,
    quintile_scores,
    rfm_scores,
    segment_codes,
    segment_for,
)

__all__ = [
    "BY_CODE",
    "BY_SLUG",
    "GRID",
    "SEGMENTS",
    "UNIT_DAYS",
    "BGNBDFit",
    "BGNBDParams",
    "GammaGammaFit",
    "GammaGammaParams",
    "HistoricValue",
    "ModelFitError",
    "RFMScores",
    "Segment",
    "SummaryRows",
    "alive_expected_purchases",
    "bgnbd_log_likelihood",
    "churn_risk",
    "compress_summary",
    "days_to_units",
    "discounted_purchases",
    "expected_order_value",
    "expected_purchases",
    "expected_purchases_at",
    "fit_bgnbd",
    "fit_bgnbd_rows",
    "fit_gamma_gamma",
    "historic_value",
    "next_purchase_wait",
    "p_alive",
    "predicted_clv",
    "quintile_scores",
    "retention_years",
    "rfm_scores",
    "segment_codes",
    "segment_for",
]
