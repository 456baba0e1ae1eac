"""Checks of the company card's fields (manual 4.6.15) and a user's contacts (4.6.14).

Pure functions, no storage: each takes the field's name (for the message) and the typed text, and
gives the value to store or raises InvalidInput saying what is wrong and where. An empty text is
"not filled in" and is kept as "" (a card is filled in over time). The check digits are the
Federal Tax Service's: INN (order of the FNS, weights below), OGRN and OGRNIP (the remainder of
the number without its last digit by 11 or 13, its last digit). Tests: tests/unit/cloud/test_company_rules.py.
"""

from __future__ import annotations

import re

from cloud.services.models import InvalidInput

INN10_WEIGHTS = (2, 4, 10, 3, 5, 9, 4, 6, 8)
INN11_WEIGHTS = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
INN12_WEIGHTS = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)

_KPP = re.compile(r"^\d{4}[\dA-Z]{2}\d{3}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")
_PHONE_NOISE = re.compile(r"[\s()\-]")
MAX_TEXT = 300


def _check_digit(digits: str, weights: tuple[int, ...]) -> int:
    return sum(int(d) * w for d, w in zip(digits, weights, strict=False)) % 11 % 10


def text(field: str, value: str, limit: int = MAX_TEXT) -> str:
    """A free text field: spaces collapsed, at most ``limit`` characters."""
    cleaned = " ".join(value.split())
    if len(cleaned) > limit:
        raise InvalidInput(f"{field}: at most {limit} characters, got {len(cleaned)}")
    return cleaned


def inn(value: str, field: str = "inn") -> str:
    """A company's (10 digits) or an entrepreneur's (12 digits) taxpayer number with valid check digits."""
    value = value.strip()
    if not value:
        return ""
    if not value.isdigit() or len(value) not in (10, 12) or not value.isascii():
        raise InvalidInput(f"{field}: 10 digits (a company) or 12 digits (an entrepreneur), got {value!r}")
    if len(value) == 10:
        if _check_digit(value, INN10_WEIGHTS) != int(value[9]):
            raise InvalidInput(f"{field}: {value} has a wrong check digit (the 10th); check the number")
    elif _check_digit(value, INN11_WEIGHTS) != int(value[10]) or _check_digit(value, INN12_WEIGHTS) != int(value[11]):
        raise InvalidInput(f"{field}: {value} has wrong check digits (the 11th and 12th); check the number")
    return value


def kpp(value: str, field: str = "kpp") -> str:
    """The registration reason code: 9 characters, the 5th and 6th may be capital latin letters."""
    value = value.strip().upper()
    if value and not _KPP.match(value):
        raise InvalidInput(f"{field}: 9 characters: 4 digits, 2 digits or latin letters, 3 digits; got {value!r}")
    return value


def ogrn(value: str, field: str = "ogrn") -> str:
    """The state registration number: 13 digits (OGRN, a company) or 15 (OGRNIP, an entrepreneur),
    the last digit the remainder of the rest by 11 (13 for OGRNIP), taken mod 10."""
    value = value.strip()
    if not value:
        return ""
    if not value.isdigit() or len(value) not in (13, 15) or not value.isascii():
        raise InvalidInput(f"{field}: 13 digits (OGRN) or 15 digits (OGRNIP), got {value!r}")
    divisor = 11 if len(value) == 13 else 13
    if int(value[:-1]) % divisor % 10 != int(value[-1]):
        raise InvalidInput(f"{field}: {value} has a wrong check digit (the last); check the number")
    return value


def consistent(inn_: str, kpp_: str, ogrn_: str) -> None:
    """A company has a 10-digit INN, a KPP and a 13-digit OGRN; an entrepreneur a 12-digit INN, no KPP
    and a 15-digit OGRNIP. Only fields filled in are compared."""
    if len(inn_) == 12 and kpp_:
        raise InvalidInput("kpp: an entrepreneur (12-digit INN) has no KPP; leave it empty")
    if inn_ and ogrn_ and (len(inn_) == 10) != (len(ogrn_) == 13):
        raise InvalidInput("ogrn: a 10-digit INN goes with a 13-digit OGRN, a 12-digit INN with a 15-digit OGRNIP")


def email(value: str, field: str = "email") -> str:
    """An e-mail address (one @, a dot in the domain, no spaces), kept in lower case."""
    value = value.strip()
    if not value:
        return ""
    if len(value) > 254 or not _EMAIL.match(value):
        raise InvalidInput(f"{field}: an e-mail address such as name@example.ru, got {value!r}")
    return value.lower()


def phone(value: str, field: str = "phone") -> str:
    """A phone number; a Russian one (+7 or 8, 10 more digits) is kept as +7 (XXX) XXX-XX-XX,
    another country's as + and its 11 to 15 digits."""
    value = value.strip()
    if not value:
        return ""
    bare = _PHONE_NOISE.sub("", value)
    digits = bare[1:] if bare.startswith("+") else bare
    if not digits.isdigit() or not digits.isascii():
        raise InvalidInput(f"{field}: digits, spaces, brackets and dashes only, got {value!r}")
    if bare.startswith("8") and len(digits) == 11:
        digits = "7" + digits[1:]
    elif not bare.startswith("+"):
        raise InvalidInput(f"{field}: start with +7 or 8 (or + and the country code), got {value!r}")
    if digits.startswith("7"):
        if len(digits) != 11:
            raise InvalidInput(f"{field}: a Russian number has 10 digits after +7, got {len(digits) - 1}")
        return f"+7 ({digits[1:4]}) {digits[4:7]}-{digits[7:9]}-{digits[9:11]}"
    if not 11 <= len(digits) <= 15:
        raise InvalidInput(f"{field}: 11 to 15 digits with the country code, got {len(digits)}")
    return "+" + digits
