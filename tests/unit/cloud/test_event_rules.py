"""The event classification and filter rules (manual 4.2.2, 4.6.13) by hand-written cases:
code and detail -> effect and description; multi-select filters where "all" equals "none";
a subscription's characteristics and address; the journal's default days."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from cloud.config import CloudConfig
from cloud.services.events import check_email, filter_values, journal_days, subscription_values
from cloud.services.models import InvalidInput
from protocol.event_classes import EventEffect, EventSeverity, MeterType, chosen, classify, device_code, matches
from protocol.settings import ConfigError, build

# (stored code, detail) -> (effect, Russian description, device code); written from docs/protocols.md's table
CASES = [
    # a device's own event: the code is its effect byte's name, the device's code gives the meaning
    ("integrity", {"event_code": "0x0101"}, EventEffect.INTEGRITY, "Вскрытие корпуса", 0x0101),
    ("interference", {"event_code": "0x0201", "channel": 2}, EventEffect.INTERFERENCE, "Магнит у датчика", 0x0201),
    ("limit", {"event_code": "0x0301"}, EventEffect.LIMIT, "Утечка: непрерывный расход в течение нескольких часов",
     0x0301),
    ("other", {"event_code": "0x0402"}, EventEffect.OTHER, "Реле переключено", 0x0402),
    ("other", {"event_code": "0x04FE"}, EventEffect.OTHER, "Команда не поддерживается моделью", 0x04FE),
    # an event code given as a number, in lower case, or as decimal text
    ("other", {"event_code": 1029}, EventEffect.OTHER, "Сброс счётчиков: регистры начаты с нуля", 0x0405),
    ("other", {"event_code": "0x04ff"}, EventEffect.OTHER, "Команда отклонена (искажена)", 0x04FF),
    ("integrity", {"event_code": "257"}, EventEffect.INTEGRITY, "Вскрытие корпуса", 0x0101),
    # the effect byte is what the device said: an unknown code keeps it, named by its number
    ("limit", {"event_code": "0x0399"}, EventEffect.LIMIT,
     "Нарушение установленной границы значения параметра (код 0x0399)", 0x0399),
    ("interference", {}, EventEffect.INTERFERENCE, "Вмешательство в работу прибора", None),
    ("integrity", {"event_code": "case"}, EventEffect.INTEGRITY, "Нарушение целостности ПУ", None),
    ("integrity", {"event_code": True}, EventEffect.INTEGRITY, "Нарушение целостности ПУ", None),
    # the cloud's suspect value is a parameter limit violation
    ("implausible_increment", {"parameter": "Q", "increase": 48.56, "limit": 0.625}, EventEffect.LIMIT,
     "Недостоверное значение: приращение счётчика выше допустимого", None),
    # the edge's notes about a meter are other controlled events
    ("clock_corrected", {"offset_before_s": 12.5}, EventEffect.OTHER, "Часы прибора скорректированы", None),
    ("periods_lost", {"archive_kind": "hour"}, EventEffect.OTHER, "Архивы утрачены: старше глубины архива прибора",
     None),
    # the add-meter wizard's warning (manual 4.5.7): named, not shown as a bare code
    ("heat_meter_without_season", {}, EventEffect.OTHER,
     "Прибор учёта тепла добавлен в объект без отопительного сезона", None),
    # unknown codes are "other", described by the code
    ("values_evicted", {}, EventEffect.OTHER, "Событие «values_evicted»", None),
    ("INTEGRITY", {}, EventEffect.OTHER, "Событие «INTEGRITY»", None),  # codes are exact
]


@pytest.mark.parametrize(("code", "detail", "effect", "text", "number"), CASES)
def test_classification(code: str, detail: dict, effect: EventEffect, text: str, number: int | None) -> None:
    found = classify(code, detail)
    assert (found.effect, found.description_ru, found.device_code) == (effect, text, number)
    assert found.description_en  # every description has its English text


def test_device_code_bounds() -> None:
    assert device_code({"event_code": "0xFFFF"}) == 0xFFFF
    assert device_code({"event_code": "0x10000"}) is None  # more than the u16 the uplink carries
    assert device_code({"event_code": -1}) is None
    assert device_code({}) is None
    assert classify("other", None).effect is EventEffect.OTHER


def test_all_equals_none() -> None:
    everything = frozenset({"integrity", "interference", "limit", "other"})
    assert chosen(EventEffect, None, "effect") == everything
    assert chosen(EventEffect, [], "effect") == everything
    assert chosen(EventEffect, ["limit", "other", "integrity", "interference"], "effect") == everything
    assert chosen(EventEffect, ["all"], "effect") == everything
    assert chosen(EventEffect, ["limit", "limit"], "effect") == {"limit"}
    assert chosen(MeterType, ["common"], "meter_role") == {"common"}
    with pytest.raises(ValueError, match="severity: unknown value 'fatal', one of alarm, info, warning"):
        chosen(EventSeverity, ["info", "fatal"], "severity")
    with pytest.raises(InvalidInput, match="effect: unknown value 'leak'"):
        filter_values(EventEffect, ["leak"], "effect")


def test_matches_each_characteristic() -> None:
    sub = {"meter_types": frozenset({"individual"}), "effects": frozenset({"integrity", "limit"}),
           "severities": frozenset({"alarm"})}
    assert matches("individual", "integrity", "alarm", **sub)
    assert matches("individual", "limit", "alarm", **sub)
    assert not matches("common", "integrity", "alarm", **sub)  # a building meter
    assert not matches("individual", "other", "alarm", **sub)  # another effect
    assert not matches("individual", "integrity", "warning", **sub)  # another kind


def test_subscription_characteristics() -> None:
    assert subscription_values(["individual", "common", "individual"], ["other"], ["alarm", "info"]) == (
        ("common", "individual"), ("other",), ("alarm", "info"))
    with pytest.raises(InvalidInput, match=r"meter_types: choose at least one meter type \(individual, common\)"):
        subscription_values([], ["other"], ["info"])
    with pytest.raises(InvalidInput, match="effects: choose at least one effect"):
        subscription_values(["common"], [], ["info"])
    with pytest.raises(InvalidInput, match="severities: choose at least one kind"):
        subscription_values(["common"], ["other"], [])
    with pytest.raises(InvalidInput, match="meter_types: unknown value 'all'"):
        subscription_values(["all"], ["other"], ["info"])  # a subscription names its values


@pytest.mark.parametrize("good", ["d@example.ru", "first.last+events@sub.example.com", "  x@y.org  "])
def test_good_addresses(good: str) -> None:
    assert check_email(good) == good.strip()


@pytest.mark.parametrize("bad", ["", " ", "plain", "a@b", "@b.ru", "a@.ru", "a b@c.ru", "a@b.ru\r\nBcc: x@y.ru",
                                 "a@-b.ru", "кот@пример.рф", "x" * 65 + "@b.ru", "a@" + "b" * 250 + ".ru"])
def test_bad_addresses(bad: str) -> None:
    with pytest.raises(InvalidInput, match="email: not an e-mail address"):
        check_email(bad)


def test_journal_days() -> None:
    today = date(2026, 1, 14)
    # default: seven days, today included: 8..14
    assert journal_days(None, None, today) == (date(2026, 1, 8), today)
    # only "from": a week from it, but not past today
    assert journal_days(date(2026, 1, 1), None, today) == (date(2026, 1, 1), date(2026, 1, 7))
    assert journal_days(date(2026, 1, 12), None, today) == (date(2026, 1, 12), today)
    # only "to": the week ending there
    assert journal_days(None, date(2025, 12, 31), today) == (date(2025, 12, 25), date(2025, 12, 31))
    # 366 days is the most: 2025-01-14 .. 2026-01-14 is 366 days
    assert journal_days(date(2025, 1, 14), today, today) == (date(2025, 1, 14), today)
    with pytest.raises(InvalidInput, match="at most 366 days"):
        journal_days(date(2025, 1, 13), today, today)
    with pytest.raises(InvalidInput, match="from: a date from 2000-01-01"):
        journal_days(date(1999, 12, 31), today, today)


def test_smtp_settings() -> None:
    """E-mail is off without a host; the settings are bounded like the others; the password is never shown."""
    assert CloudConfig(Path("/tmp/c")).smtp() is None
    on = build(CloudConfig, {"data_dir": "/tmp/c", "smtp_host": "mail.example.ru", "smtp_port": 587,
                             "smtp_from": "noreply@example.ru", "smtp_user": "u", "smtp_password": "secret",
                             "smtp_starttls": True}, "cloud.toml", "cloud")
    smtp = on.smtp()
    assert smtp is not None
    assert (smtp.host, smtp.port, smtp.sender, smtp.user, smtp.starttls) == (
        "mail.example.ru", 587, "noreply@example.ru", "u", True)
    assert "secret" not in repr(on)
    assert "secret" not in repr(smtp)
    with pytest.raises(ConfigError, match=r"smtp_port: must be 1\.\.65535, got 70000"):
        build(CloudConfig, {"data_dir": "/tmp/c", "smtp_host": "h", "smtp_port": 70000}, "cloud.toml", "cloud")
    with pytest.raises(ValueError, match="smtp_from must be an e-mail address"):
        CloudConfig(Path("/tmp/c"), smtp_host="h", smtp_from="nobody")
    with pytest.raises(ValueError, match="smtp_password needs smtp_user"):
        CloudConfig(Path("/tmp/c"), smtp_host="h", smtp_password="p")  # noqa: S106 - a test value
    with pytest.raises(ValueError, match="smtp_host must be one line"):
        CloudConfig(Path("/tmp/c"), smtp_host="h\r\nRCPT TO:<x@y.ru>")
