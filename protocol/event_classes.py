"""What a stored event is, in the manual's terms (4.2.2, 4.6.13): its effect on the meter
(integrity violation, interference, parameter limit violation, other controlled event), its kind
(info, warning, alarm) and a description in Russian and English. Pure: a ``device_events`` row's
code and detail in, a classification out; the journal, the subscriptions and the e-mail
notifier all classify through here. Tests: tests/unit/cloud/test_event_rules.py.

The mapping, in the order it is applied:

1. ``code`` is an effect name (``integrity``, ``interference``, ``limit``, ``other``): a device's
   own event (LoRaWAN template 0x05, docs/protocols.md section 5), which carries its effect byte;
   the edge stores that byte's name as the code and the device's event code as ``detail.event_code``
   (``"0x0101"``), whose meaning comes from DEVICE_CODES (unknown: a generic text with the code).
2. ``code`` is one the edge or the cloud writes itself (NAMED_CODES): e.g. ``implausible_increment``
   (a suspect value, cloud/services/plausibility.py) is a parameter limit violation.
3. Anything else is an "other controlled event", described by its code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class EventEffect(StrEnum):
    """By its effect on the meter (manual 4.2.2, «по принципу воздействия»)."""

    INTEGRITY = "integrity"  # «Нарушение целостности ПУ»
    INTERFERENCE = "interference"  # «Вмешательство в работу прибора»
    LIMIT = "limit"  # «Нарушение установленной границы значения параметра»
    OTHER = "other"  # «Выполнение иного контролируемого события»


class EventSeverity(StrEnum):
    """The kind of an event (manual 4.2.2, «виды события»); the values of device_events.severity."""

    INFO = "info"  # «Информационное»
    WARNING = "warning"  # «Предупреждение»
    ALARM = "alarm"  # «Аварийный случай»


class MeterType(StrEnum):
    """The meter an event happened on: the registry's meters.role values."""

    INDIVIDUAL = "individual"  # ИПУ, an apartment meter
    COMMON = "common"  # ОДПУ, a building meter


EFFECT_TEXT: dict[EventEffect, tuple[str, str]] = {
    EventEffect.INTEGRITY: ("Нарушение целостности ПУ", "Integrity violation"),
    EventEffect.INTERFERENCE: ("Вмешательство в работу прибора", "Interference with the meter"),
    EventEffect.LIMIT: ("Нарушение установленной границы значения параметра", "Parameter limit violation"),
    EventEffect.OTHER: ("Выполнение иного контролируемого события", "Other controlled event"),
}
SEVERITY_TEXT: dict[EventSeverity, tuple[str, str]] = {
    EventSeverity.INFO: ("Информационное", "Information"),
    EventSeverity.WARNING: ("Предупреждение", "Warning"),
    EventSeverity.ALARM: ("Аварийный случай", "Alarm"),
}
METER_TYPE_TEXT: dict[MeterType, tuple[str, str]] = {
    MeterType.INDIVIDUAL: ("ИПУ", "Apartment meter"),
    MeterType.COMMON: ("ОДПУ", "Building meter"),
}

# the KARAT devices' event codes (docs/protocols.md, "Event codes of the simulated devices"): code ->
# (effect, Russian, English); the high byte is the effect the device sends with it
DEVICE_CODES: dict[int, tuple[EventEffect, str, str]] = {
    0x0101: (EventEffect.INTEGRITY, "Вскрытие корпуса", "Case opened"),
    0x0201: (EventEffect.INTERFERENCE, "Магнит у датчика", "Magnet at the sensor"),
    0x0301: (EventEffect.LIMIT, "Утечка: непрерывный расход в течение нескольких часов",
             "Leak: continuous flow for hours"),
    0x0302: (EventEffect.LIMIT, "Отключение по превышению мощности", "Overload trip"),
    0x0401: (EventEffect.OTHER, "Часы прибора установлены", "Clock set"),
    0x0402: (EventEffect.OTHER, "Реле переключено", "Relay switched"),
    0x0403: (EventEffect.OTHER, "Запрошенный архив недоступен", "Requested archive not available"),
    0x0404: (EventEffect.OTHER, "Доступ запрещён: неверный пароль прибора", "Access denied: wrong meter password"),
    0x0405: (EventEffect.OTHER, "Сброс счётчиков: регистры начаты с нуля", "Counter reset: registers restarted"),
    0x0406: (EventEffect.OTHER, "Прибор установлен взамен другого", "Installed in place of another device"),
    0x04FE: (EventEffect.OTHER, "Команда не поддерживается моделью", "Command not supported by the model"),
    0x04FF: (EventEffect.OTHER, "Команда отклонена (искажена)", "Command rejected (malformed)"),
}

SUSPECT_CODE = "implausible_increment"  # cloud/services/plausibility.py CODE
# codes the edge and the cloud write themselves (not a device's effect byte): code -> (effect, ru, en)
NAMED_CODES: dict[str, tuple[EventEffect, str, str]] = {
    SUSPECT_CODE: (EventEffect.LIMIT, "Недостоверное значение: приращение счётчика выше допустимого",
                   "Suspect value: counter increment above the plausible limit"),
    "clock_corrected": (EventEffect.OTHER, "Часы прибора скорректированы", "Meter clock corrected"),
    # manual 4.5.7: a heat meter added to a building with no heating season set (the add-meter wizard)
    "heat_meter_without_season": (EventEffect.OTHER, "Прибор учёта тепла добавлен в объект без отопительного сезона",
                                  "Heat meter added to a building with no heating season"),
    "clock_out_of_range": (EventEffect.OTHER, "Часы прибора вне допустимого расхождения",
                           "Meter clock out of range"),
    "record_rejected": (EventEffect.OTHER, "Архивная запись отклонена", "Archive record rejected"),
    "periods_lost": (EventEffect.OTHER, "Архивы утрачены: старше глубины архива прибора",
                     "Periods lost: older than the device's archive depth"),
}


@dataclass(frozen=True, slots=True)
class Classified:
    effect: EventEffect
    description_ru: str
    description_en: str
    device_code: int | None = None  # the device's own event code, when it sent one


def device_code(detail: Mapping[str, Any]) -> int | None:
    """``detail.event_code`` ("0x0101", or a number) as an int; None when absent or not a code."""
    raw = detail.get("event_code")
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw if 0 <= raw <= 0xFFFF else None
    if isinstance(raw, str):
        try:
            value = int(raw, 16) if raw.lower().startswith("0x") else int(raw)
        except ValueError:
            return None
        return value if 0 <= value <= 0xFFFF else None
    return None


def classify(code: str, detail: Mapping[str, Any] | None = None) -> Classified:
    """The effect and description of a stored event (the module docstring's mapping)."""
    detail = detail or {}
    number = device_code(detail)
    try:
        effect = EventEffect(code)
    except ValueError:
        effect = None
    if effect is not None:
        known = DEVICE_CODES.get(number) if number is not None else None
        if known is not None:
            return Classified(effect, known[1], known[2], number)
        suffix = f" (код 0x{number:04X})" if number is not None else ""
        suffix_en = f" (code 0x{number:04X})" if number is not None else ""
        ru, en = EFFECT_TEXT[effect]
        return Classified(effect, f"{ru}{suffix}", f"{en}{suffix_en}", number)
    named = NAMED_CODES.get(code)
    if named is not None:
        return Classified(named[0], named[1], named[2], number)
    return Classified(EventEffect.OTHER, f"Событие «{code}»", f"Event '{code}'", number)


def chosen(kind: type[StrEnum], values: Iterable[str] | None, field: str) -> frozenset[str]:
    """A multi-select filter as the set of values it lets through: nothing chosen and everything
    chosen are the same ("all" equals "none"); the word ``all`` means everything too. An unknown
    value raises ValueError naming ``field`` and the allowed values."""
    allowed = {member.value for member in kind}  # type: ignore[attr-defined]
    given = {str(v) for v in values or ()}
    if "all" in given:
        return frozenset(allowed)
    unknown = sorted(given - allowed)
    if unknown:
        raise ValueError(f"{field}: unknown value {unknown[0]!r}, one of {', '.join(sorted(allowed))}")
    return frozenset(given or allowed)


def matches(meter_type: str, effect: str, severity: str, *, meter_types: frozenset[str],
            effects: frozenset[str], severities: frozenset[str]) -> bool:
    """Whether an event passes a filter or a subscription: each characteristic is one of the chosen."""
    return meter_type in meter_types and effect in effects and severity in severities
