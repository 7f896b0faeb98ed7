"""Pools of plausible names, companies and contact details per language.

Faker is slow per call (tens of microseconds), so each pool is drawn once
and customers combine pool entries at random: a few hundred first names,
last names and companies per language give millions of distinct people.
"""

from __future__ import annotations

import itertools
import random
import re
import unicodedata
from dataclasses import dataclass

from faker import Faker

POOL_SIZE = 250

_CYRILLIC = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
        [
            "a",
            "b",
            "v",
            "g",
            "d",
            "e",
            "e",
            "zh",
            "z",
            "i",
            "y",
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
            "_",
            "y",
            "_",
            "e",
            "yu",
            "ya",
        ],
        strict=True,
    )
)
_LEGAL_FORMS = re.compile(
    r"\b(S\.?L\.?L?\.?|S\.?A\.?T?\.?|S\.?Coop\.?|LLC|Inc|Ltd|PLC|Group|and|y|e|del|de|la|ООО|ОАО|ЗАО|АО|ПАО|НПО|РАО|"
    r"Инк|Лтд|Групп)\b\.?",
    re.IGNORECASE,
)


def to_ascii(text: str) -> str:
    """Lower-case ASCII for e-mail addresses: transliterate Cyrillic, drop accents."""
    text = "".join(_CYRILLIC.get(ch, ch) for ch in text.lower()).replace("_", "")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "", text)


@dataclass
class LocalePool:
    language: str
    first_male: list[tuple[str, str]]  # (display, ascii)
    first_female: list[tuple[str, str]]
    last_male: list[tuple[str, str]]
    last_female: list[tuple[str, str]]
    companies: list[tuple[str, str]]  # (name, e-mail domain)
    free_mail: tuple[str, ...]
    timezones: tuple[str, ...]
    timezone_odds: tuple[float, ...]  # cumulative weights
    currency: str
    price_factor: int  # list prices are in EUR-ish units; RUB prices are larger numbers

    def person(self, rng: random.Random) -> tuple[str, str]:
        """(full name, e-mail local part) for a random man or woman of this language."""
        if rng.random() < 0.5:
            first, last = rng.choice(self.first_male), rng.choice(self.last_male)
        else:
            first, last = rng.choice(self.first_female), rng.choice(self.last_female)
        if self.language == "es":  # two surnames: "María García López"
            second = rng.choice(self.last_male)
            return f"{first[0]} {last[0]} {second[0]}", f"{first[1]}.{last[1]}"
        return f"{first[0]} {last[0]}", f"{first[1]}.{last[1]}"

    def phone(self, rng: random.Random, tz: str) -> str:
        """A number in E.164, as the customer services store them (customers/phones.py)."""
        n = rng.randrange(10_000_000)
        if self.language == "en":  # +1 (area) xxx-xxxx
            area = rng.choice(_US_AREA_CODES.get(tz, (212,)))
            return f"+1{area}{200 + n // 10_000 % 800}{n % 10_000:04d}"  # exchanges start at 2
        digits = f"{n:07d}"
        if self.language == "es":  # mobile: +34 6xx xxx xxx
            return f"+346{digits}{n % 10}"
        return f"+79{digits}{n % 89 + 10}"  # mobile: +7 (9xx) xxx-xx-xx


# Area codes that match the customer's time zone (New York, Chicago, Denver, Los Angeles).
_US_AREA_CODES = {
    "America/New_York": (212, 646, 718, 617, 404, 305),
    "America/Chicago": (312, 773, 214, 512, 713),
    "America/Denver": (303, 720, 801),
    "America/Los_Angeles": (213, 415, 206, 503),
}


def _unique(draw, size: int) -> list[str]:
    seen: dict[str, None] = {}
    for _ in range(size * 4):
        seen.setdefault(draw(), None)
        if len(seen) >= size:
            break
    return list(seen)


def _domain(company: str, tld: str) -> str:
    words = [to_ascii(w) for w in _LEGAL_FORMS.sub(" ", company).replace("-", " ").split()]
    words = [w for w in words if w][:2] or ["mail"]
    return "-".join(words) + tld


def _names(fake: Faker, method: str) -> list[tuple[str, str]]:
    return [(n, to_ascii(n)) for n in _unique(getattr(fake, method), POOL_SIZE)]


def build_pools(seed: int) -> dict[str, LocalePool]:
    pools = {}
    settings = {
        "en": ("en_US", (".com", ".com", ".us", ".net"), ("gmail.com", "outlook.com", "yahoo.com")),
        "es": ("es_ES", (".es", ".es", ".com"), ("gmail.com", "hotmail.es", "telefonica.net")),
        "ru": ("ru_RU", (".ru", ".ru", ".com"), ("yandex.ru", "mail.ru", "gmail.com")),
    }
    zones = {
        "en": (("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"), (45, 25, 10, 20)),
        "es": (("Europe/Madrid", "Atlantic/Canary"), (93, 7)),
        "ru": (("Europe/Moscow", "Europe/Samara", "Asia/Yekaterinburg", "Asia/Novosibirsk"), (70, 5, 15, 10)),
    }
    currency = {"en": ("USD", 1), "es": ("EUR", 1), "ru": ("RUB", 95)}
    for language, (locale, tlds, free_mail) in settings.items():
        fake = Faker(locale)
        fake.seed_instance(seed)
        rng = random.Random(f"{seed}-{language}")
        companies = _unique(fake.company, POOL_SIZE)
        if language == "ru":  # Faker's ru_RU also invents "Иванова Инк"; keep Russian legal forms only
            companies = [c for c in companies if c.split()[0] in {"ООО", "АО", "ЗАО", "ОАО", "ПАО", "НПО"}] or companies
        pools[language] = LocalePool(
            language=language,
            first_male=_names(fake, "first_name_male"),
            first_female=_names(fake, "first_name_female"),
            last_male=_names(fake, "last_name_male"),
            last_female=_names(fake, "last_name_female"),
            companies=[(c, _domain(c, rng.choice(tlds))) for c in companies],
            free_mail=free_mail,
            timezones=zones[language][0],
            timezone_odds=tuple(itertools.accumulate(zones[language][1])),
            currency=currency[language][0],
            price_factor=currency[language][1],
        )
    return pools
