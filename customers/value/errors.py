"""The one exception the value engine raises on purpose."""

from __future__ import annotations


class ModelFitError(ValueError):
    """The data cannot be fitted (empty, no repeat buyers, invalid values).

    The message says why in words a retention manager can read on a failed run; the
    service catches this type and marks the run failed instead of crashing the job.
    """
