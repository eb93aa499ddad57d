"""Names, email addresses and phone numbers: per-market name pools drawn once from Faker,
and the ASCII spellings of the names (Ukrainian romanisation, Polish and other Latin
letters) that email addresses are made of. No database access.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from faker import Faker

from customers.demo.params import MARKETS

EMAIL_DOMAINS = ("example.com", "example.net", "example.org")  # reserved: never a real inbox
UA_LATIN = dict(
    zip(
        "абвгґдеєжзиіїйклмнопрстуфхцчшщюя",
        [
            "a",
            "b",
            "v",
            "h",
            "g",
            "d",
            "e",
            "ie",
            "zh",
            "z",
            "y",
            "i",
            "i",
            "i",
            "k",
            "l",
            "m",
            "n",
            "o",
            "p",
            "r",
            "s",
            "t",
            "u",
            "f",
            "kh",
            "ts",
            "ch",
            "sh",
            "shch",
            "iu",
            "ia",
        ],
        strict=True,
    )
)  # Ukrainian national romanisation (2010), non-initial forms; ь and apostrophes drop
LATIN_EXTRA = {"ł": "l", "ß": "ss", "ä": "ae", "ö": "oe", "ü": "ue", "ø": "o", "æ": "ae"}


def _ascii(text: str) -> str:
    text = "".join(UA_LATIN.get(c, LATIN_EXTRA.get(c, c)) for c in text.lower())
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in text if c.isalnum() or c == "-")


@dataclass
class NamePools:
    """Per market and sex, names drawn once from Faker (frequency-weighted), with their
    ASCII forms for email addresses."""

    first: list[list[list[str]]]  # [market][female][i]
    last: list[list[list[str]]]

    @classmethod
    def build(cls, seed: int, size: int = 400) -> NamePools:
        first, last = [], []
        for i, market in enumerate(MARKETS):
            fake = Faker(market.faker_locale)
            fake.seed_instance(seed * 1000 + i)
            # one line, no backslash: the names go into COPY text unescaped
            draw = lambda f: [" ".join(f().replace("\\", "").split()) for _ in range(size)]  # noqa: E731
            first.append([draw(fake.first_name_male), draw(fake.first_name_female)])
            last.append([draw(fake.last_name_male), draw(fake.last_name_female)])
        return cls(first, last)


def _phone(market: int, d: int) -> str:
    """Plausible, not real: UK and US use the ranges reserved for drama."""
    country = MARKETS[market].country
    if country == "PL":
        return f"+48 {5 + d % 4}{d // 10 % 100:02d} {d // 1000 % 1000:03d} {d // 10**6 % 1000:03d}"
    if country == "UA":
        op = (50, 63, 66, 67, 68, 73, 93, 95, 96, 97, 98, 99)[d % 12]
        return f"+380 {op} {d // 100 % 1000:03d} {d // 10**5 % 100:02d} {d // 10**7 % 100:02d}"
    if country == "DE":
        return f"+49 15{d % 10} {d // 10 % 10**8:08d}"
    if country == "CZ":
        return f"+420 {6 + d % 2}{d // 10 % 100:02d} {d // 1000 % 1000:03d} {d // 10**6 % 1000:03d}"
    if country == "GB":
        return f"+44 7700 900{d % 1000:03d}"
    return f"+1 ({201 + d % 700}) 555-01{d // 1000 % 100:02d}"
