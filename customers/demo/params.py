"""The story's parameters: markets, acquisition channels, order values, product lines,
returns, interest tags, staff and conversation topics, and the configuration of a run.

Plain data with no Django import, so the generator runs without the ORM. The few
vocabularies that ``crm.roles`` and the models define (role names, the interaction
kinds, outcomes and directions, follow-up priorities) are therefore spelled out here;
tests/customers/test_seed_demo.py checks that they still match.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

DEMO_SOURCE = "demo"
BLOCK_SIZE = 10_000
DAY = 86_400

# --- The story's parameters -----------------------------------------------------------


@dataclass(frozen=True)
class Market:
    country: str
    faker_locale: str
    locale: str
    currency: str
    tz: str
    share: float
    per_eur: float  # local money per EUR: sizes amounts only; base amounts use FX_RATES
    spend: float  # spending level relative to Poland
    phone_share: float


MARKETS = (
    Market("PL", "pl_PL", "pl", "PLN", "Europe/Warsaw", 0.50, 4.30, 1.00, 0.70),
    Market("UA", "uk_UA", "uk", "UAH", "Europe/Kyiv", 0.25, 45.0, 0.75, 0.80),
    Market("DE", "de_DE", "de", "EUR", "Europe/Berlin", 0.08, 1.00, 1.35, 0.45),
    Market("CZ", "cs_CZ", "cs", "CZK", "Europe/Prague", 0.07, 25.0, 1.00, 0.60),
    Market("GB", "en_GB", "en", "GBP", "Europe/London", 0.05, 0.85, 1.30, 0.45),
    Market("US", "en_US", "en", "USD", "America/New_York", 0.05, 1.08, 1.40, 0.50),
)
UA = 1


@dataclass(frozen=True)
class Channel:
    code: str
    share: float
    r: float  # BG/NBD, rates per day
    alpha: float
    a: float
    b: float


# Referral and organic customers buy more often and stay longer; paid social and
# marketplace customers are more often one-off bargain buyers.
CHANNELS = (
    Channel("organic_search", 0.20, 0.22, 2.4, 0.75, 8.5),
    Channel("paid_search", 0.14, 0.20, 2.8, 0.75, 7.0),
    Channel("paid_social", 0.15, 0.16, 3.4, 0.85, 5.0),
    Channel("organic_social", 0.05, 0.21, 2.6, 0.75, 7.5),
    Channel("email", 0.04, 0.23, 2.2, 0.75, 8.5),
    Channel("referral", 0.09, 0.27, 1.9, 0.70, 11.0),
    Channel("direct", 0.10, 0.22, 2.4, 0.75, 8.0),
    Channel("marketplace", 0.12, 0.15, 3.8, 0.90, 4.5),
    Channel("retail", 0.05, 0.22, 2.6, 0.75, 8.0),
    Channel("events", 0.02, 0.21, 2.8, 0.75, 7.5),
    Channel("partner", 0.03, 0.22, 2.6, 0.75, 7.5),
    Channel("other", 0.01, 0.20, 2.8, 0.75, 7.0),
)
MARKETPLACE = 7
ACQUISITION_GROWTH = 0.6  # the newest cohort is e**0.6 = 1.8 times the oldest

P_GG, Q_GG, GAMMA_EUR = 4.0, 3.5, 37.5  # mean of customers' mean spend: 60 EUR in Poland
LOYALTY_LIFT = 1.08
ORDER_STATUS = (("paid", 0.955), ("refunded", 0.02), ("cancelled", 0.025))
SALES_CHANNELS = ("web", "app", "store", "marketplace", "phone", "other")
_SC_DEFAULT = (0.58, 0.24, 0.09, 0.05, 0.03, 0.01)
SALES_BY_CHANNEL = {
    "marketplace": (0.22, 0.05, 0.02, 0.69, 0.01, 0.01),
    "retail": (0.30, 0.12, 0.54, 0.02, 0.01, 0.01),
    "events": (0.45, 0.15, 0.30, 0.05, 0.04, 0.01),
    "partner": (0.55, 0.10, 0.10, 0.05, 0.15, 0.05),
}
STORE = 2


@dataclass(frozen=True)
class ProductLine:
    name: str
    share: float
    guarantee_days: int
    price_slope: float  # dearer orders lean towards lines with a higher slope


LINES = (
    ProductLine("Footwear", 0.24, 30, 0.2),
    ProductLine("Apparel", 0.28, 30, -0.3),
    ProductLine("Accessories", 0.16, 30, -1.0),
    ProductLine("Kids", 0.08, 365, -0.4),
    ProductLine("Outdoor gear", 0.14, 1825, 0.6),
    ProductLine("Electronics", 0.10, 730, 1.2),
)
FIT_LINES = (0, 1, 3)
# 5% of paid orders come back under a 30-day guarantee; a five-year one doubles that.
RETURN_RATE = 0.05
RETURN_LIFT = {30: 1.0, 365: 1.4, 730: 1.6, 1825: 2.0}
REASONS_FIT = ("Wrong size", "Too small", "Too big", "Colour differs from the photos")
REASONS_EARLY = ("Changed my mind", "Not as described", "Arrived damaged", "Ordered by mistake")
REASONS_DEFECT = ("Defective", "Stopped working", "Broke in normal use", "Manufacturing fault")

TAGS = (
    "running", "hiking", "cycling", "climbing", "kids",
    "eco", "premium", "b2b", "gifts", "bargain-hunter",
)  # fmt: skip
TAG_WEIGHT = np.array([1.0, 1.0, 0.8, 0.35, 0.6, 0.7, 0.3, 0.04, 0.6, 0.7])
TAG_BY_LINE = {0: {0: 4.0}, 1: {0: 1.5, 6: 1.5}, 2: {8: 3.0}, 3: {4: 8.0}, 4: {1: 4.0, 3: 4.0}}
TAG_BY_LINE[5] = {2: 3.0}
B2B_TAG, PREMIUM_TAG, BARGAIN_TAG = 7, 6, 9
TAG_COUNT = (0.35, 0.35, 0.20, 0.10)

# Role names as crm.roles defines them.
ROLE_ADMIN, ROLE_RETENTION, ROLE_SUPPORT = "admin", "retention", "support"

# Staff slots; the writer maps them to user ids.
STAFF = (
    ("admin", ROLE_ADMIN, "Ada", "Admin"),
    ("marta", ROLE_RETENTION, "Marta", "Nowak"),
    ("oleh", ROLE_SUPPORT, "Oleh", "Shevchenko"),
    ("kasia", ROLE_SUPPORT, "Katarzyna", "Wiśniewska"),
)
ADMIN_SLOT, MARTA, OLEH, KASIA = 0, 1, 2, 3
STAFF_TZ = "Europe/Warsaw"


@dataclass(frozen=True)
class Topic:
    weight: float
    direction: str
    role: str
    kinds: dict[str, float]
    outcomes: dict[str, float]
    summaries: tuple[str, ...]
    reasons: tuple[str, ...] = ()
    resolutions: tuple[str, ...] = ()


TOPICS = (
    Topic(0.22, "inbound", ROLE_SUPPORT, {"chat": 0.45, "email": 0.35, "call": 0.2},
          {"resolved": 0.7, "neutral": 0.15, "follow_up": 0.1, "complaint": 0.05},
          ("Asked when the {line} order will arrive; shared the tracking link.",
           "Parcel stuck at the courier depot for three days; opened a claim with the carrier.",
           "Wanted to change the delivery address after ordering {line}.",
           "Asked for delivery to a parcel locker instead of the home address."),
          ("Check that the parcel was delivered", "Chase the courier claim"),
          ("Parcel delivered; customer confirmed.", "Courier claim settled; parcel re-sent.")),
    Topic(0.16, "inbound", ROLE_SUPPORT, {"email": 0.4, "chat": 0.35, "call": 0.25},
          {"resolved": 0.55, "follow_up": 0.2, "complaint": 0.15, "neutral": 0.1},
          ("Asked how to return {line} bought {days} days ago; sent the return label.",
           "Return of {line} received at the warehouse; refund confirmed.",
           "Unhappy that the refund for {line} has not arrived yet.",
           "Wants to exchange {line} for a different size."),
          ("Confirm the refund was paid", "Send the replacement size"),
          ("Refund paid; customer informed.", "Exchange shipped.")),
    Topic(0.08, "inbound", ROLE_SUPPORT, {"call": 0.45, "email": 0.45, "visit": 0.1},
          {"follow_up": 0.5, "resolved": 0.3, "complaint": 0.2},
          ("Reported a fault with {line} after {months} months; warranty claim opened.",
           "Asked whether the guarantee covers wear on {line}.",
           "Sent photos of the damaged {line}; forwarded to the manufacturer."),
          ("Tell the customer the warranty decision", "Chase the manufacturer about the claim"),
          ("Claim accepted; replacement sent.", "Repaired under guarantee and returned.")),
    Topic(0.18, "inbound", ROLE_SUPPORT, {"chat": 0.55, "visit": 0.25, "call": 0.2},
          {"positive": 0.35, "sale": 0.3, "neutral": 0.3, "follow_up": 0.05},
          ("Asked for sizing advice on {line}.",
           "Compared two {line} models; recommended the lighter one.",
           "Asked whether {line} would suit a beginner.",
           "Asked when {line} will be back in stock."),
          ("Say when it is back in stock", "Send the comparison we promised"),
          ("Sent the link; customer ordered.", "Back-in-stock notice sent.")),
    Topic(0.16, "outbound", ROLE_RETENTION, {"call": 0.6, "email": 0.4},
          {"no_answer": 0.3, "positive": 0.25, "neutral": 0.2, "sale": 0.1, "follow_up": 0.15},
          ("Win-back call after a long break; offered a loyalty voucher.",
           "Checked in after the first order; happy with {line}.",
           "Invited to the loyalty programme; will think about it.",
           "Thank-you call to a long-standing customer; asked for a review."),
          ("Try again: no answer last time", "Check whether the voucher was used"),
          ("Reached the customer; voucher used.", "Closed after two attempts without an answer.")),
    Topic(0.04, "inbound", ROLE_RETENTION, {"email": 0.6, "call": 0.4},
          {"follow_up": 0.5, "sale": 0.3, "neutral": 0.2},
          ("Asked for a quote for a team order of {line}.",
           "Company wants monthly invoicing for repeat {line} orders.",
           "Asked about volume discounts for a club order."),
          ("Send the quote", "Agree the invoicing terms"),
          ("Quote accepted; order placed.", "Invoicing terms agreed.")),
    Topic(0.06, "inbound", ROLE_SUPPORT, {"call": 0.5, "email": 0.35, "chat": 0.15},
          {"complaint": 0.6, "resolved": 0.4},
          ("Complained about a rude courier; apologised and sent a discount code.",
           "Charged twice for one order; escalated to finance.",
           "Unhappy with the quality of {line}; offered a partial refund."),
          ("Call back about the complaint", "Confirm the double charge was refunded"),
          ("Apologised; customer accepted the discount.", "Duplicate charge refunded.")),
    Topic(0.10, "internal", "", {"note": 1.0}, {"neutral": 1.0},
          ("Prefers to be called after 5 pm.", "Asked not to be called at weekends.",
           "Orders are shipped to the office address.", "Prefers contact in English.")),
)  # fmt: skip
RETURN_TOPICS, BULK_TOPIC, RETENTION_TOPIC = (1, 2), 5, 4
# The values of Interaction.Kind, Interaction.Outcome and Interaction.Direction, in the
# models' order, and of FollowUp.Priority.
KINDS = ("call", "email", "chat", "visit", "note")
OUTCOMES = ("resolved", "follow_up", "positive", "neutral", "complaint", "no_answer", "sale")
DIRECTIONS = ("inbound", "outbound", "internal")
PRIORITY_URGENT, PRIORITY_HIGH, PRIORITY_NORMAL = 1, 2, 3


@dataclass(frozen=True)
class DemoConfig:
    customers: int
    seed: int
    end_date: dt.date
    years: int = 3
    block_size: int = BLOCK_SIZE
    time_zone: str = "UTC"
    # units of the base currency per unit of each market currency
    fx: dict[str, float] = field(default_factory=dict)
