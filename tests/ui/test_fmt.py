"""Number formatting on the pages (ui/fmt.py): Russian grouping and decimal comma, English as is,
and no signed zero."""

from __future__ import annotations

from ui import fmt


def test_russian_grouping_and_decimal_comma() -> None:
    # 1234.5 with 3 places: "1 234,500" with a no-break space between the thousands
    assert fmt.number(1234.5, 3, lang="ru") == "1\u00a0234,500"
    assert fmt.number(1234.5, 3, lang="en") == "1,234.500"


def test_a_small_negative_that_rounds_to_zero_prints_as_zero() -> None:
    # an outdoor mean of -0.04 °C at one place rounds to 0.0: "-0,0" reads as an error on the page
    assert fmt.number(-0.04, 1, lang="ru") == "0,0"
    assert fmt.number(-0.0, 3, lang="en") == "0.000"
    # a negative that does not round to zero keeps its sign: -0.05 at one place is -0.1 (half away
    # from zero is not guaranteed in binary; -0.06 is unambiguous)
    assert fmt.number(-0.06, 1, lang="ru") == "-0,1"
