"""Generation: the simulation of customers, orders, returns, interest tags and consent,
block by block, as column arrays (conversations with staff are in conversations.py).
Pure numpy: configuration in, arrays out, no database access; the writer turns the
arrays into rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from customers.demo.clock import Clock
from customers.demo.conversations import interactions
from customers.demo.draws import _between, _cum, _pick, _shopping_seconds
from customers.demo.names import EMAIL_DOMAINS, NamePools, _ascii, _phone
from customers.demo.params import (
    _SC_DEFAULT,
    ACQUISITION_GROWTH,
    B2B_TAG,
    BARGAIN_TAG,
    CHANNELS,
    DAY,
    FIT_LINES,
    GAMMA_EUR,
    KASIA,
    LINES,
    LOYALTY_LIFT,
    MARKETPLACE,
    MARKETS,
    OLEH,
    ORDER_STATUS,
    P_GG,
    PREMIUM_TAG,
    Q_GG,
    REASONS_DEFECT,
    REASONS_EARLY,
    REASONS_FIT,
    RETURN_LIFT,
    RETURN_RATE,
    SALES_BY_CHANNEL,
    STORE,
    TAG_BY_LINE,
    TAG_COUNT,
    TAG_WEIGHT,
    TAGS,
    DemoConfig,
)


@dataclass
class Block:
    """Column arrays for one block; foreign keys are indices into this block's tables."""

    index: int
    tables: dict[str, dict[str, Any]]

    def rows(self, table: str) -> int:
        return len(next(iter(self.tables[table].values())))


def bgnbd_repeats(
    rng: np.random.Generator, lam: np.ndarray, p: np.ndarray, age: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Exact BG/NBD repeat purchases: for each kept purchase, its customer and its time in
    days after the first purchase, customer by customer in time order."""
    arrivals = rng.poisson(lam * age)
    lifetime = rng.geometric(p)  # the repeat purchase after which the customer drops out
    who = np.repeat(np.arange(len(lam)), arrivals)
    u = rng.random(len(who))
    u = np.sort(who + u) - who  # uniforms sorted within each customer
    rank = np.arange(len(who)) - (np.cumsum(arrivals) - arrivals)[who]
    keep = rank < lifetime[who]
    return who[keep], u[keep] * age[who[keep]]


class Generator:
    """Pure: configuration in, column arrays out; no database access."""

    def __init__(self, config: DemoConfig, pools: NamePools | None = None) -> None:
        self.config = config
        self.clock = Clock(config)
        self.pools = pools or NamePools.build(config.seed)
        self.blocks = -(-config.customers // config.block_size)
        self.fx = np.array([config.fx.get(m.currency, 1.0) for m in MARKETS])
        self.scale = np.array([m.per_eur * m.spend for m in MARKETS])
        self.sales_cum = _cum([SALES_BY_CHANNEL.get(c.code, _SC_DEFAULT) for c in CHANNELS])
        self.ascii_first = [[[_ascii(n) for n in sex] for sex in m] for m in self.pools.first]
        self.ascii_last = [[[_ascii(n) for n in sex] for sex in m] for m in self.pools.last]

    def block(self, index: int) -> Block:
        cfg, clock = self.config, self.clock
        n = min(cfg.block_size, cfg.customers - index * cfg.block_size)
        # One stream per concern, so changing how interactions are drawn leaves orders alone.
        streams = np.random.SeedSequence([cfg.seed, index]).spawn(6)
        rc, rt, ro, rr, rx, ri = (np.random.default_rng(s) for s in streams)

        market = rc.choice(len(MARKETS), n, p=[m.share for m in MARKETS])
        channel = rc.choice(len(CHANNELS), n, p=[c.share for c in CHANNELS])
        favourite = rc.choice(len(LINES), n, p=[ln.share for ln in LINES])
        customer = self._contacts(rc, market)

        # Acquisition over the window, more in recent years, then BG/NBD repeat purchases.
        u = rt.random(n)
        frac = np.log1p(u * np.expm1(ACQUISITION_GROWTH)) / ACQUISITION_GROWTH
        first = clock.start + (frac * (clock.end - clock.start)).astype(np.int64)
        seconds = _shopping_seconds(rt, n)
        first = clock.at_time_of_day(first, market, seconds, clock.start - 1, clock.end)
        params = np.array([[c.r, c.alpha, c.a, c.b] for c in CHANNELS])[channel]
        lam = rt.gamma(params[:, 0], 1.0 / params[:, 1])
        p = np.clip(rt.beta(params[:, 2], params[:, 3]), 1e-12, 1.0)
        who, t = bgnbd_repeats(rt, lam, p, (clock.end - first) / DAY)
        repeats = np.bincount(who, minlength=n)

        orders, joins, join_at, nu = self._orders(ro, rx, market, channel, favourite, first, who, t)
        returns = self._returns(rr, orders, market)
        tags = self._tags(rx, favourite, lam, nu / self.scale[market])
        b2b = np.zeros(n, bool)
        b2b[tags["customer"][tags["tag"] == B2B_TAG]] = True
        created = first - rx.integers(30, 600, n)  # the account, at the first checkout
        consent = self._consent(rx, first, created + 15, channel, customer["has_email"])
        has_return = np.zeros(n, bool)
        has_return[orders["customer"][returns["order"]]] = True
        talks = interactions(ri, clock, first, market, repeats, has_return, b2b, favourite)

        # Orders are stored in time order within a block, as a shop records them.
        by_time = np.argsort(orders["ordered_at"], kind="stable")
        position = np.empty_like(by_time)
        position[by_time] = np.arange(len(by_time))
        returns["order"] = position[returns["order"]]
        customer.update(
            market=market,
            channel=channel,
            acquired_at=clock.local_day(first, clock.home),
            loyalty_member_since=np.where(joins, clock.local_day(join_at, clock.home), -1),
            created_at=created,
            updated_at=np.where(joins, join_at, created),
            # The truth, for checking a model fit; not written.
            _lambda=lam, _p=p, _nu=nu, _repeats=repeats,
        )  # fmt: skip
        return Block(
            index,
            {
                "customer": customer,
                "tag": tags,
                "consent": consent,
                "order": {key: col[by_time] for key, col in orders.items()},
                "return": returns,
                **talks,
            },
        )

    def _contacts(self, rng: np.random.Generator, market: np.ndarray) -> dict[str, Any]:
        n = len(market)
        female = (rng.random(n) < 0.52).astype(int)
        first_i, last_i = rng.integers(0, 1 << 30, (2, n))
        pattern, domain = rng.integers(0, 5, n), rng.integers(0, len(EMAIL_DOMAINS), n)
        has_email = rng.random(n) >= 0.03
        has_phone = rng.random(n) < np.array([m.phone_share for m in MARKETS])[market]
        digits = rng.integers(0, 10**9, n)
        names, emails, phones = [], [], []
        for i in range(n):  # a few microseconds a customer; Faker itself is never called here
            m, s = market[i], female[i]
            fi, li = (
                first_i[i] % len(self.pools.first[m][s]),
                last_i[i] % len(self.pools.last[m][s]),
            )
            names.append(f"{self.pools.first[m][s][fi]} {self.pools.last[m][s][li]}")
            f, last = self.ascii_first[m][s][fi], self.ascii_last[m][s][li]
            local = (f"{f}.{last}", f"{f}{last}", f"{f[:1]}{last}", f"{last}.{f}", f"{f}_{last}")
            # "{}" becomes the primary key, which makes the address unique
            emails.append(
                f"{local[pattern[i]]}{{}}@{EMAIL_DOMAINS[domain[i]]}" if has_email[i] else None
            )
            phones.append(_phone(m, int(digits[i])) if has_phone[i] else "")
        return {"email": emails, "name": names, "phone": phones, "has_email": has_email}

    def _orders(
        self, ro: np.random.Generator, rx: np.random.Generator, market: np.ndarray,
        channel: np.ndarray, favourite: np.ndarray, first: np.ndarray, who: np.ndarray,
        t: np.ndarray,
    ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
        clock, n = self.clock, len(market)
        repeats = np.bincount(who, minlength=n)
        count = repeats + 1
        o_cust = np.repeat(np.arange(n), count)
        o_start = np.cumsum(count) - count
        o_k = np.arange(len(o_cust)) - o_start[o_cust]  # 0 is the first order
        rep = o_k > 0
        at = np.empty(len(o_cust), np.int64)
        at[o_start] = first
        at[rep] = first[who] + (t * DAY).astype(np.int64)
        sales = _pick(ro, self.sales_cum[channel[o_cust]])
        store_hours = ro.integers(10 * 3600, 20 * 3600, len(at))
        tod = np.where(sales == STORE, store_hours, _shopping_seconds(ro, len(at)))
        at[rep] = clock.at_time_of_day(at[rep], market[who], tod[rep], first[who], clock.end)
        status = ro.choice(len(ORDER_STATUS), len(at), p=[s[1] for s in ORDER_STATUS])
        status[~rep] = 0

        # Loyalty: heavier repeat buyers join more often, at the checkout of a repeat order.
        joins = (repeats > 0) & (rx.random(n) < np.clip(0.04 + 0.06 * np.log1p(repeats), 0, 0.6))
        join_k = 1 + (rx.random(n) * repeats).astype(np.int64)
        join_at = np.where(joins, at[o_start + np.minimum(join_k, repeats)], 0)
        lifted = joins[o_cust] & (o_k > join_k[o_cust])

        # Gamma-Gamma in the market's money; dearer orders lean to dearer product lines.
        scale = self.scale[market[o_cust]]
        nu = ro.gamma(Q_GG, 1.0 / (GAMMA_EUR * self.scale[market]))
        value = ro.gamma(P_GG, 1.0 / nu[o_cust])
        slope = np.log(np.maximum(value / scale, 1.0) / 50.0)
        logits = np.log([ln.share for ln in LINES]) + np.outer(
            slope, [ln.price_slope for ln in LINES]
        )
        logits[np.arange(len(at)), favourite[o_cust]] += 1.2
        line = np.argmax(logits + ro.gumbel(size=logits.shape), axis=1)
        value = np.where(lifted, value * LOYALTY_LIFT, value)
        cents = np.maximum(np.rint(value * 100), np.rint(200 * scale)).astype(np.int64)
        created = np.minimum(at + ro.integers(5, 300, len(at)), clock.end - 1)
        settled = at + ((ro.uniform(0.1, 2.0, len(at)) + 5.0 * (status == 1)) * DAY).astype(
            np.int64
        )
        orders = {
            "customer": o_cust, "ordered_at": at, "cents": cents,
            "base_cents": np.rint(cents * self.fx[market[o_cust]]).astype(np.int64),
            "currency": market[o_cust], "status": status, "sales_channel": sales, "line": line,
            "created_at": created,
            "updated_at": np.where(status > 0, np.minimum(settled, clock.end - 1), created),
        }  # fmt: skip
        return orders, joins, join_at, nu

    def _returns(
        self, rng: np.random.Generator, orders: dict[str, np.ndarray], market: np.ndarray
    ) -> dict[str, Any]:
        """Returns of paid orders, within the guarantee and before the end of history."""
        at, line, cents = orders["ordered_at"], orders["line"], orders["cents"]
        guarantee = np.array([ln.guarantee_days for ln in LINES])[line]
        lift = np.array([RETURN_LIFT[ln.guarantee_days] for ln in LINES])[line]
        idx = np.flatnonzero((orders["status"] == 0) & (rng.random(len(at)) < RETURN_RATE * lift))
        g, m = guarantee[idx], len(idx)
        early = rng.random(m) < 1 / lift[idx]  # what a long guarantee adds are late claims
        days = np.where(
            early, 1 + 28 * rng.beta(1.3, 3.5, m), 30 + (g - 31) * rng.beta(0.9, 3.5, m)
        )
        when = at[idx] + (days * DAY).astype(np.int64)
        zone = market[orders["customer"][idx]]
        seconds = rng.integers(8 * 3600, 18 * 3600, m)
        when = self.clock.at_time_of_day(when, zone, seconds, at[idx] + 3600, self.clock.end)
        ok = (when < self.clock.end) & (when <= at[idx] + g * DAY)
        idx, when, early, zone = idx[ok], when[ok], early[ok], zone[ok]
        m = len(idx)
        full = rng.random(m) < 0.62
        part = np.maximum(1, np.rint(cents[idx] * rng.uniform(0.15, 0.85, m))).astype(np.int64)
        amount = np.where(full, cents[idx], part)
        fit = np.isin(line[idx], FIT_LINES) & (rng.random(m) < 0.7)
        early_reason = np.where(fit, rng.choice(REASONS_FIT, m), rng.choice(REASONS_EARLY, m))
        return {
            "order": idx,
            "returned_at": when,
            "cents": amount,
            "base_cents": np.rint(amount * self.fx[zone]).astype(np.int64),
            "reason": np.where(early, early_reason, rng.choice(REASONS_DEFECT, m)),
            "created_at": np.minimum(when + rng.integers(60, 3600, m), self.clock.end - 1),
        }

    def _tags(
        self, rng: np.random.Generator, favourite: np.ndarray, lam: np.ndarray, nu_eur: np.ndarray
    ) -> dict[str, np.ndarray]:
        """0-3 interests a customer, drawn without replacement (Gumbel top-k)."""
        n = len(favourite)
        weight = np.tile(TAG_WEIGHT, (n, 1))
        for fav, boosts in TAG_BY_LINE.items():
            for tag, factor in boosts.items():
                weight[favourite == fav, tag] *= factor
        mean_eur = P_GG / nu_eur  # expected order value, at Polish spending levels
        weight[:, B2B_TAG] += 4.0 * lam  # heavy buyers are more often businesses
        weight[:, PREMIUM_TAG] *= np.where(mean_eur > 120, 3.0, 1.0)
        weight[:, BARGAIN_TAG] *= np.where(mean_eur < 35, 3.0, 1.0)
        k = rng.choice(len(TAG_COUNT), n, p=TAG_COUNT)
        ranked = np.argsort(-(np.log(weight) + rng.gumbel(size=weight.shape)), axis=1)
        customer, slot = np.nonzero(np.arange(len(TAGS))[None, :] < k[:, None])
        return {"customer": customer, "tag": ranked[customer, slot]}

    def _consent(
        self, rng: np.random.Generator, first: np.ndarray, at: np.ndarray, channel: np.ndarray,
        has_email: np.ndarray,
    ) -> dict[str, np.ndarray]:  # fmt: skip
        """Asked on the sign-up form at the first checkout; some withdraw later."""
        clock, n = self.clock, len(first)
        email_yes = rng.random(n) < np.where(channel == MARKETPLACE, 0.45, 0.82)
        survey_yes = rng.random(n) < 0.72
        profile_yes = rng.random(n) < 0.40
        quit_email = email_yes & (rng.random(n) < 0.14)
        quit_survey = survey_yes & (rng.random(n) < 0.05)
        by_staff = rng.random(n) < 0.2
        later = _between(rng, first, np.full(n, clock.end))
        later2 = _between(rng, first, np.full(n, clock.end))
        # purpose 0 email, 1 surveys, 2 profiling; note/source/staff codes below
        parts = [
            (has_email, 0, email_yes, at, 0),
            (has_email, 1, survey_yes, at, 0),
            (has_email & profile_yes, 2, np.ones(n, bool), at, 0),
            (has_email & quit_email & ~by_staff, 0, np.zeros(n, bool), later, 1),
            (has_email & quit_email & by_staff, 0, np.zeros(n, bool), later, 2),
            (has_email & quit_survey, 1, np.zeros(n, bool), later2, 3),
        ]
        cols: dict[str, list[np.ndarray]] = {
            k: [] for k in ("customer", "purpose", "granted", "occurred_at", "how")
        }
        for mask, purpose, granted, when, how in parts:
            idx = np.flatnonzero(mask)
            cols["customer"].append(idx)
            cols["purpose"].append(np.full(len(idx), purpose))
            cols["granted"].append(granted[idx])
            cols["occurred_at"].append(when[idx])
            cols["how"].append(np.full(len(idx), how))
        out = {k: np.concatenate(v) for k, v in cols.items()}
        support = np.where(rng.random(len(out["how"])) < 0.5, OLEH, KASIA)
        out["staff"] = np.where(out["how"] == 2, support, -1)
        return out
