"""Calendar: epoch seconds, local days and times of day in the markets' and the staff's
time zones. Pure numpy, no database access.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np

from customers.demo.params import DAY, MARKETS, STAFF_TZ, DemoConfig


class Clock:
    """Epoch-second arithmetic with per-hour UTC offsets for the zones the demo uses."""

    def __init__(self, config: DemoConfig) -> None:
        home = ZoneInfo(config.time_zone)
        end = config.end_date
        try:
            start = end.replace(year=end.year - config.years)
        except ValueError:  # 29 February
            start = end.replace(year=end.year - config.years, day=28)
        self.end = int(dt.datetime.combine(end, dt.time(), home).timestamp())
        self.start = int(dt.datetime.combine(start, dt.time(), home).timestamp())
        self.t0 = self.start - 3 * DAY
        hours = (self.end + 3 * DAY - self.t0) // 3600 + 1
        zones = [m.tz for m in MARKETS] + [config.time_zone, STAFF_TZ]
        self.offsets = np.stack([self._offset_table(ZoneInfo(z), hours) for z in zones])
        self.home, self.staff = len(MARKETS), len(MARKETS) + 1

    def _offset_table(self, tz: ZoneInfo, hours: int) -> np.ndarray:
        def offset(hour: int) -> int:
            moment = dt.datetime.fromtimestamp(self.t0 + hour * 3600, tz)
            return int(moment.utcoffset().total_seconds())  # type: ignore[union-attr]

        out = np.empty(hours, np.int64)
        for day in range(0, hours, 24):  # hourly only on the days the offset changes
            stop = min(day + 24, hours)
            first, last = offset(day), offset(stop - 1 if stop == hours else stop)
            out[day:stop] = first if first == last else [offset(h) for h in range(day, stop)]
        return out

    def offset(self, instant: np.ndarray, zone: np.ndarray | int) -> np.ndarray:
        hour = np.clip((instant - self.t0) // 3600, 0, self.offsets.shape[1] - 1)
        return self.offsets[zone, hour]

    def local_day(self, instant: np.ndarray, zone: np.ndarray | int) -> np.ndarray:
        """Days since 1970-01-01 of the local date."""
        return (instant + self.offset(instant, zone)) // DAY

    def at_time_of_day(
        self, instant: np.ndarray, zone: np.ndarray | int, seconds: np.ndarray,
        low: np.ndarray | int, high: np.ndarray | int,
    ) -> np.ndarray:  # fmt: skip
        """Move each instant to ``seconds`` past local midnight of its local day, unless
        that leaves (low, high); DST gaps and folds may shift such a time by an hour."""
        day_start = self.local_day(instant, zone) * DAY
        local = day_start + seconds
        moved = local - self.offset(local - self.offset(local, zone), zone)
        return np.where((moved > low) & (moved < high), moved, instant)
