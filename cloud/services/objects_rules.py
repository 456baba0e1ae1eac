"""Pure rules of settings «Объекты», «Помещения» and personal accounts (manual 4.6.1-4.6.3, 4.6.9):
premise number ranges, the address register check that the construction-unfinished flag skips,
the ФИАС code and the personal account's form. No I/O: the services call these and raise what
they raise (InvalidInput naming the field). Tests: tests/unit/cloud/test_objects_rules.py.
"""

from __future__ import annotations

import re
import uuid

from cloud.services.models import InvalidInput

MAX_PREMISES_PER_CALL = 2000  # one request adds or removes at most this many numbered premises
MAX_NUMBER = 99_999  # an apartment number: a positive whole number up to this
BUILDING_KINDS = ("apartment_block", "house", "nonresidential")  # тип строения: МКД, жилой дом, нежилое

# ФИАС street types (their short and full forms, lower case, without the dot): an address of the register
# names its street with one of these
STREET_TYPES = frozenset({
    "ул", "улица", "пр-т", "просп", "пр", "проспект", "пер", "переулок", "б-р", "бул", "бульвар", "ш", "шоссе",
    "наб", "набережная", "пл", "площадь", "проезд", "пр-д", "мкр", "микрорайон", "тракт", "аллея", "линия",
    "туп", "тупик", "кв-л", "квартал", "тер", "территория", "спуск", "въезд", "дор", "дорога", "ряды", "сквер",
})
_HOUSE = re.compile(r"^(?:(?:д|дом)\.?\s*)?(\d{1,4}[а-яё]?(?:/\d{1,4}[а-яё]?)?)"
                    r"(?:\s*,?\s*(?:к|корп|корпус|стр|строение|лит|литера)\.?\s*\d{0,3}[а-яё]?)*$", re.IGNORECASE)
_NUMBER = re.compile(r"^\d+$")
_RANGE = re.compile(r"^(\d+)\s*[-–—]\s*(\d+)$")
_ACCOUNT = re.compile(r"^[0-9A-Za-zА-Яа-яЁё][0-9A-Za-zА-Яа-яЁё/-]{0,29}$")


def parse_numbers(text: object, field: str = "numbers") -> list[str]:
    """Apartment numbers from "1-3, 7, 10-12" (commas, semicolons or spaces between items; a range
    with a hyphen or dash, both ends included; "5-5" is one apartment, as the manual's two equal
    fields). Numbers come back as canonical text ("007" is "7") in the order written. Refused: an
    empty list, a reversed range ("5-3"), zero, a number above MAX_NUMBER, a number given twice,
    more than MAX_PREMISES_PER_CALL in all."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput(f"{field}: give apartment numbers, e.g. 1-120 or 1-3, 7")
    items = [i for i in re.split(r"[,;\s]+", re.sub(r"\s*([-–—])\s*", r"\1", text.strip())) if i]
    out: list[str] = []
    seen: set[int] = set()
    for item in items:
        matched = _RANGE.match(item)
        if matched:
            low, high = int(matched.group(1)), int(matched.group(2))
        elif _NUMBER.match(item):
            low = high = int(item)
        else:
            raise InvalidInput(f"{field}: {item!r} is neither a number nor a range like 1-120")
        if low > high:
            raise InvalidInput(f"{field}: the range {item} is reversed: write {high}-{low}")
        if low < 1 or high > MAX_NUMBER:
            raise InvalidInput(f"{field}: apartment numbers run from 1 to {MAX_NUMBER}, got {item}")
        if high - low + 1 + len(out) > MAX_PREMISES_PER_CALL:
            raise InvalidInput(f"{field}: at most {MAX_PREMISES_PER_CALL} premises at a time, "
                               f"got {high - low + 1 + len(out)} or more")
        for number in range(low, high + 1):
            if number in seen:
                raise InvalidInput(f"{field}: apartment {number} is given twice")
            seen.add(number)
            out.append(str(number))
    return out


def check_register_address(address: str) -> str:
    """The address register check (ФИАС, manual 4.6.2) as a rule on the text: a registered address
    ends with a street (one of STREET_TYPES and a name) and a house number ("ул. Ленина, 5",
    "пр-т Мира, д. 12а", "ул. Новая, 5/2 корп. 1"), optionally after the settlement ("г. Казань,
    ..."). A building under construction has no legal address yet: the caller skips this check
    for it (the construction-unfinished flag)."""
    parts = [p.strip() for p in address.split(",") if p.strip()]
    if len(parts) < 2:
        raise InvalidInput(f"address: {address!r} is not a registered address: give the street and the house "
                           "number, e.g. 'ул. Ленина, 5' (or mark the building as construction unfinished)")
    house = parts[-1]
    # "ул. Новая, 5, корп. 1": a building part as its own item belongs to the house
    if len(parts) >= 3 and re.match(r"^(к|корп|корпус|стр|строение|лит|литера)\.?\s*\d", house, re.IGNORECASE):
        house = f"{parts[-2]} {house}"
        parts = [*parts[:-2], house]
    if not _HOUSE.match(house):
        raise InvalidInput(f"address: {house!r} is not a house number (e.g. 5, д. 12а, 5/2, 7 корп. 1); "
                           "mark the building as construction unfinished to keep a provisional address")
    street = parts[-2]
    words = [w.strip(".").lower() for w in re.split(r"[\s.]+", street) if w.strip(".")]
    if not any(w in STREET_TYPES for w in words) or len(words) < 2:
        raise InvalidInput(f"address: {street!r} names no street of the register (ул., пр-т, пер., ш., "
                           "наб., пл., мкр. ... and its name); mark the building as construction unfinished "
                           "to keep a provisional address")
    return address


def check_fias_code(value: object) -> str:
    """A ФИАС code is the house's GUID (36 characters, lower case); empty when not known."""
    if not isinstance(value, str):
        raise InvalidInput(f"fias_code: a ФИАС GUID such as 0c5b2444-70a0-4932-980c-b4dc0d3f02b5, got {value!r}")
    text = value.strip().lower()
    if not text:
        return ""
    try:
        parsed = uuid.UUID(text)
    except ValueError:
        raise InvalidInput(f"fias_code: {value!r} is not a ФИАС GUID "
                           "(e.g. 0c5b2444-70a0-4932-980c-b4dc0d3f02b5)") from None
    if str(parsed) != text:
        raise InvalidInput(f"fias_code: write the GUID with hyphens, 8-4-4-4-12 characters, got {value!r}")
    return text


def check_building_kind(value: object) -> str:
    if value not in BUILDING_KINDS:
        raise InvalidInput(f"building_kind: one of {', '.join(BUILDING_KINDS)}, got {value!r}")
    return str(value)


def check_account(value: object) -> str:
    """A personal account (ЛС) as billing centres write it: 1 to 30 letters, digits, '-' or '/',
    starting with a letter or digit; empty clears it."""
    if not isinstance(value, str):
        raise InvalidInput(f"account: text, got {value!r}")
    account = value.strip()
    if account and not _ACCOUNT.match(account):
        raise InvalidInput(f"account: 1 to 30 letters, digits, '-' or '/', starting with a letter or digit, "
                           f"got {value!r}")
    return account
