"""Reproducible demo history: customers, orders, returns, consent, tags and staff conversations.

The data follow the stories the value engine assumes, so a fit on them should find the
parameters below (per acquisition channel; the whole base is a mixture of channels):

* BG/NBD (Fader, Hardie & Lee 2005). Customer i, acquired with a first order at ``first_i``
  and observed for ``T_i`` days until the end of history, buys again as a Poisson process
  with rate ``lambda_i ~ Gamma(r, rate alpha)`` per day; after each *repeat* purchase they
  drop out for good with probability ``p_i ~ Beta(a, b)``. Simulated exactly: arrivals
  ``K ~ Poisson(lambda T)`` as sorted uniforms on (0, T), of which the first
  ``min(K, J)`` are kept, ``J ~ Geometric(p)``. There is no dropout at the first purchase,
  as in the paper's likelihood (x = 0 means "alive, bought nothing more"); dropping out
  there as well (``min(K, J - 1)``) would be the MBG/NBD, a different model.
* Gamma-Gamma: per customer ``nu_i ~ Gamma(Q_GG, rate gamma_m)`` and each order value
  ``~ Gamma(P_GG, rate nu_i)``, with ``gamma_m`` scaled to the market's money and
  spending level. Loyalty members spend ``LOYALTY_LIFT`` more after joining (a small,
  deliberate departure from the model, so the loyalty analysis has something to find).
* A few repeat orders are cancelled or refunded (independent thinning; the first order
  is always paid). No seasonality: dates come from the processes above.

Reproducibility: the data are a function of ``(seed, customers, end_date, years,
block_size, TIME_ZONE, FX_RATES)`` and the numpy and Faker versions. Customers are
generated in blocks of ``block_size`` (10,000) with one random stream per block, so the
writer's chunk size and the database do not change the data, and the first
``customers // block_size`` blocks are the same whatever ``customers`` is. Primary keys
continue after the rows already in the tables, and the strings built from them
(external ids, the number in each email) follow; on an empty database those match too.
"""

from customers.demo.generate import Generator, bgnbd_repeats
from customers.demo.names import _ascii
from customers.demo.params import DEMO_SOURCE, TAGS, DemoConfig
from customers.demo.rows import LABELS, TABLES, _columns
from customers.demo.write import SeedConflict, SeedReport, _Database, fx_rates, seed_demo

__all__ = [
    "DEMO_SOURCE",
    "LABELS",
    "TABLES",
    "TAGS",
    "DemoConfig",
    "Generator",
    "SeedConflict",
    "SeedReport",
    "_Database",
    "_ascii",
    "_columns",
    "bgnbd_repeats",
    "fx_rates",
    "seed_demo",
]
