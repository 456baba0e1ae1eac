"""The company card's field checks (manual 4.6.15): INN, KPP, OGRN/OGRNIP check digits worked out
by hand below, e-mail and phone, and the identifiers' consistency."""

from __future__ import annotations

import pytest

from cloud.services import company_rules as rules
from cloud.services.models import InvalidInput
from cloud.services.profile import CardFields, check_card


def test_inn_of_a_company_with_its_check_digit() -> None:
    # 7707083893: weights 2 4 10 3 5 9 4 6 8 over 7 7 0 7 0 8 3 8 9
    # 14 + 28 + 0 + 21 + 0 + 72 + 12 + 48 + 72 = 267; 267 mod 11 = 267 - 264 = 3; 3 mod 10 = 3 = the 10th digit
    assert rules.inn(" 7707083893 ") == "7707083893"
    with pytest.raises(InvalidInput, match="inn: 7707083894 has a wrong check digit"):
        rules.inn("7707083894")


def test_inn_whose_remainder_is_ten_ends_in_zero() -> None:
    # 5000000000: 5 x 2 = 10; 10 mod 11 = 10; 10 mod 10 = 0 = the 10th digit
    assert rules.inn("5000000000") == "5000000000"
    # 1000000002: 1 x 2 = 2; 2 mod 11 = 2 = the 10th digit
    assert rules.inn("1000000002") == "1000000002"
    with pytest.raises(InvalidInput, match="wrong check digit"):
        rules.inn("1000000000")


def test_inn_of_an_entrepreneur_with_two_check_digits() -> None:
    # 500100732259, the 11th digit: weights 7 2 4 10 3 5 9 4 6 8 over 5 0 0 1 0 0 7 3 2 2
    # 35 + 0 + 0 + 10 + 0 + 0 + 63 + 12 + 12 + 16 = 148; 148 mod 11 = 148 - 143 = 5 = the 11th digit
    # the 12th: weights 3 7 2 4 10 3 5 9 4 6 8 over 5 0 0 1 0 0 7 3 2 2 5
    # 15 + 0 + 0 + 4 + 0 + 0 + 35 + 27 + 8 + 12 + 40 = 141; 141 mod 11 = 141 - 132 = 9 = the 12th digit
    assert rules.inn("500100732259") == "500100732259"
    with pytest.raises(InvalidInput, match="wrong check digits"):
        rules.inn("500100732258")  # the 12th off by one
    with pytest.raises(InvalidInput, match="wrong check digits"):
        rules.inn("500100732159")  # 10th digit 1 for 2: 148 - 8 = 140, 140 mod 11 = 8, not the 11th digit 5


@pytest.mark.parametrize("value", ["770708389", "77070838931", "77070838a3", "７７０７０８３８９３"])
def test_inn_length_and_digits(value: str) -> None:
    with pytest.raises(InvalidInput, match="inn: 10 digits"):
        rules.inn(value)


def test_ogrn_check_digit() -> None:
    # 1027700132195: the first 12 digits 102770013219 = 11 x 9342728474 + 5; 5 mod 10 = 5 = the last digit
    assert rules.ogrn("1027700132195") == "1027700132195"
    with pytest.raises(InvalidInput, match="ogrn: 1027700132196 has a wrong check digit"):
        rules.ogrn("1027700132196")


def test_ogrnip_check_digit_by_thirteen() -> None:
    # 304500116000157: the first 14 digits 30450011600015 = 13 x 2342308584616 + 7; 7 = the last digit
    assert rules.ogrn("304500116000157") == "304500116000157"
    with pytest.raises(InvalidInput, match="wrong check digit"):
        rules.ogrn("304500116000158")
    with pytest.raises(InvalidInput, match="ogrn: 13 digits"):
        rules.ogrn("10277001321")


def test_kpp() -> None:
    assert rules.kpp("773601001") == "773601001"
    assert rules.kpp("7736ab001") == "7736AB001"  # letters in the 5th and 6th places, kept in capitals
    assert rules.kpp("") == ""
    for wrong in ("77360100", "7736010011", "AB3601001", "77360100X"):
        with pytest.raises(InvalidInput, match="kpp: 9 characters"):
            rules.kpp(wrong)


def test_identifiers_must_agree() -> None:
    with pytest.raises(InvalidInput, match="kpp: an entrepreneur"):
        rules.consistent("500100732259", "773601001", "")
    with pytest.raises(InvalidInput, match="ogrn: a 10-digit INN goes with a 13-digit OGRN"):
        rules.consistent("7707083893", "773601001", "304500116000157")
    rules.consistent("7707083893", "773601001", "1027700132195")
    rules.consistent("500100732259", "", "304500116000157")


def test_email() -> None:
    assert rules.email(" Admin@UK-Test.ru ") == "admin@uk-test.ru"
    for wrong in ("admin", "admin@", "admin@host", "a b@host.ru", "a@@host.ru", "a@host..ru"):
        with pytest.raises(InvalidInput, match="email: an e-mail address"):
            rules.email(wrong)


def test_phone() -> None:
    # 8 and 10 digits is a Russian number: 8 becomes +7
    assert rules.phone("8 (843) 123-45-67") == "+7 (843) 123-45-67"
    assert rules.phone("+78431234567") == "+7 (843) 123-45-67"
    assert rules.phone("+375 29 123 45 67") == "+375291234567"  # 12 digits with the country code
    with pytest.raises(InvalidInput, match="phone: a Russian number has 10 digits after \\+7, got 9"):
        rules.phone("+7 843 123 45 6")
    with pytest.raises(InvalidInput, match="phone: start with \\+7 or 8"):
        rules.phone("843 123 45 67")
    with pytest.raises(InvalidInput, match="phone: digits"):
        rules.phone("+7 843 ABC 45 67")


def test_card_is_checked_field_by_field() -> None:
    card = check_card(CardFields(legal_name='  ООО   «УК Тест» ', inn="7707083893", kpp="773601001",
                                 ogrn="1027700132195", phone="88431234567", email="A@B.RU"))
    assert (card.legal_name, card.phone, card.email) == ("ООО «УК Тест»", "+7 (843) 123-45-67", "a@b.ru")
    with pytest.raises(InvalidInput, match="director: at most 200 characters, got 201"):
        check_card(CardFields(director="я" * 201))
    assert check_card(CardFields()) == CardFields()  # nothing filled in yet is a valid card
