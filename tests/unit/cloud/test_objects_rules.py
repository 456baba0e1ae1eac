"""The pure rules of settings «Помещения», «Объект» and personal accounts (cloud/services/objects_rules.py):
number ranges worked out by hand, the address register check and what it refuses, ФИАС codes and
personal accounts."""

from __future__ import annotations

import pytest

from cloud.services.models import InvalidInput
from cloud.services.objects_rules import (
    MAX_PREMISES_PER_CALL,
    check_account,
    check_building_kind,
    check_fias_code,
    check_register_address,
    parse_numbers,
)


@pytest.mark.parametrize(("text", "expected"), [
    # 1-3 is three apartments, 7 one, 10-12 three more: seven in the order written
    ("1-3, 7, 10-12", ["1", "2", "3", "7", "10", "11", "12"]),
    ("5-5", ["5"]),  # the manual's "same number in both fields": one apartment
    ("5", ["5"]),
    ("  1 - 2 ;4  ", ["1", "2", "4"]),  # spaces around the dash, a semicolon, blanks at the ends
    ("1–3", ["1", "2", "3"]),  # an en dash as Word writes it
    ("007", ["7"]),  # leading zeros dropped: apartment 7
    ("9 8", ["9", "8"]),  # a space separates two numbers, kept in the order written
])
def test_numbers_parse(text: str, expected: list[str]) -> None:
    assert parse_numbers(text) == expected


def test_a_hundred_and_twenty_apartments() -> None:
    numbers = parse_numbers("1-120")
    assert len(numbers) == 120  # 120 - 1 + 1
    assert (numbers[0], numbers[-1]) == ("1", "120")


@pytest.mark.parametrize(("text", "message"), [
    ("", r"^numbers: give apartment numbers"),
    ("   ", r"^numbers: give apartment numbers"),
    ("5-3", r"^numbers: the range 5-3 is reversed: write 3-5"),
    ("0-2", r"^numbers: apartment numbers run from 1 to 99999, got 0-2"),
    ("100000", r"^numbers: apartment numbers run from 1 to 99999"),
    ("1-2001", r"^numbers: at most 2000 premises at a time, got 2001"),
    ("1-1500, 2001-2501", r"^numbers: at most 2000 premises at a time, got 2001"),  # 1500 + 501 = 2001
    ("1-3, 2", r"^numbers: apartment 2 is given twice"),
    ("1-3, 3-4", r"^numbers: apartment 3 is given twice"),
    ("1a", r"^numbers: '1a' is neither a number nor a range"),
    ("1-2-3", r"^numbers: '1-2-3' is neither a number nor a range"),
])
def test_bad_numbers_are_refused(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_numbers(text)


def test_exactly_the_limit_passes() -> None:
    assert len(parse_numbers(f"1-{MAX_PREMISES_PER_CALL}")) == MAX_PREMISES_PER_CALL


def test_not_text_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"^numbers:"):
        parse_numbers(12)


@pytest.mark.parametrize("address", [
    "ул. Ленина, 5", "ул. Новая, 5а", "пр-т Мира, д. 12а", "г. Казань, ул. Тестовая, д. 1",
    "Ленинский проспект, 30", "ул. Новая, 5/2 корп. 1", "ул. Новая, 5, корп. 1", "наб. Фонтанки, 90 стр. 2",
    "мкр. Солнечный, 14",
])
def test_register_addresses_pass(address: str) -> None:
    assert check_register_address(address) == address


@pytest.mark.parametrize(("address", "message"), [
    ("Стройплощадка у леса", r"^address: .* is not a registered address"),  # no comma: no house number
    ("ул. 9", r"^address: .* is not a registered address"),
    ("ул. Ленина, первый", r"^address: 'первый' is not a house number"),
    ("Ленина, 5", r"^address: 'Ленина' names no street of the register"),  # no street type
    ("ул., 5", r"^address: 'ул.' names no street of the register"),  # a type without a name
])
def test_unregistered_addresses_are_refused(address: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        check_register_address(address)


def test_fias_code() -> None:
    assert check_fias_code(" 0C5B2444-70A0-4932-980C-B4DC0D3F02B5 ") == "0c5b2444-70a0-4932-980c-b4dc0d3f02b5"
    assert check_fias_code("") == ""
    with pytest.raises(InvalidInput, match=r"^fias_code: 'x' is not a ФИАС GUID"):
        check_fias_code("x")
    with pytest.raises(InvalidInput, match=r"^fias_code: write the GUID with hyphens"):
        check_fias_code("0c5b244470a04932980cb4dc0d3f02b5")  # a valid UUID, but not as ФИАС writes it


def test_building_kind() -> None:
    assert check_building_kind("house") == "house"
    with pytest.raises(InvalidInput, match=r"^building_kind: one of apartment_block, house, nonresidential"):
        check_building_kind("castle")


@pytest.mark.parametrize(("value", "expected"), [
    (" 1234567890 ", "1234567890"), ("ЛС-1", "ЛС-1"), ("12/34-A", "12/34-A"), ("", ""), ("  ", ""),
])
def test_accounts(value: str, expected: str) -> None:
    assert check_account(value) == expected


@pytest.mark.parametrize("value", ["-12", "12 34", "1" * 31, "12;DROP"])
def test_bad_accounts(value: str) -> None:
    with pytest.raises(InvalidInput, match=r"^account: 1 to 30 letters"):
        check_account(value)
