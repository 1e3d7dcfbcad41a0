"""Borrowers and their contacts: zh_CN names, national IDs with a valid check digit, mobile
numbers on real prefixes, emails and addresses. Faker fills pools once per seed; rows draw from
the pools with a seeded RNG, so a million borrowers cost seconds, not minutes."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from faker import Faker
from faker.providers.phone_number.zh_CN import Provider as PhoneProvider
from faker.providers.ssn.zh_CN import Provider as SsnProvider

POOL = 4000
RELATIONS = ("父母", "配偶", "兄弟姐妹", "朋友", "同事")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


@dataclass(frozen=True)
class Pools:
    names: tuple[str, ...]
    addresses: tuple[str, ...]
    email_users: tuple[str, ...]
    email_domains: tuple[str, ...]
    areas: tuple[str, ...]
    prefixes: tuple[int, ...]


@lru_cache(maxsize=4)
def pools(seed: int) -> Pools:
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    latin = Faker("en_US")
    latin.seed_instance(seed)
    return Pools(
        names=tuple(fake.name() for _ in range(POOL)),
        addresses=tuple(fake.address().replace("\n", " ") for _ in range(POOL)),
        email_users=tuple(latin.user_name() for _ in range(POOL)),
        email_domains=("qq.com", "163.com", "126.com", "sina.com", "foxmail.com", "gmail.com"),
        areas=tuple(a for a in SsnProvider.area_codes if not a.endswith("00")),
        prefixes=tuple(PhoneProvider.phonenumber_prefixes),
    )


def national_id(rng: random.Random, p: Pools, today: date) -> str:
    """An 18-digit resident ID: area, birth date (age 20-60), sequence, ISO 7064 check digit."""
    birth = today - timedelta(days=rng.randint(20 * 365, 60 * 365))
    body = f"{rng.choice(p.areas)}{birth:%Y%m%d}{rng.randint(0, 999):03d}"
    total = sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True))
    return body + _ID_CHECK[total % 11]


def mobile(rng: random.Random, p: Pools) -> str:
    return f"{rng.choice(p.prefixes)}{rng.randint(0, 99_999_999):08d}"


def email(rng: random.Random, p: Pools, n: int) -> str:
    return f"{rng.choice(p.email_users)}{n}@{rng.choice(p.email_domains)}"
