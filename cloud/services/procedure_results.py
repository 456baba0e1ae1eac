"""What the service procedures read from the engineer and from the device (manual 4.5.5): the
correction's sensor choice, and the verdict on an automatic operation's command result
(availability, passport consistency, time service, current readings); and why a procedure
cannot start on a meter now."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from cloud.services import procedure_rules as rules
from cloud.services.models import MAX_VALUE, InvalidInput, check_day, meter_status
from cloud.services.outages import Outage, out_of_service, utc_time
from cloud.services.procedure_models import ProcedureInfo
from protocol import catalogue
from protocol.periods import local_to_utc, period_start, zone
from protocol.vocabulary import ArchiveKind


def model_spec(model: str) -> catalogue.ModelSpec | None:
    try:
        return catalogue.model(model)
    except catalogue.UnknownModel:
        return None


def lifecycle_status(meter: sqlite3.Row, now: datetime) -> str:
    return meter_status(utc_time(meter["commissioned_at"]), utc_time(meter["decommissioned_at"]), now, meter["status"])


def sensor_choice(given: Mapping[str, Any], meter: sqlite3.Row, at: datetime) -> dict[str, Any]:
    """выбор сенсора: the counter (channel, parameter), the archive kind and local period start, and the true value."""
    allowed = {"channel", "parameter", "kind", "period", "value"}
    if unknown := sorted(set(given) - allowed):
        raise InvalidInput(f"settings: {unknown[0]} is not a sensor choice ({', '.join(sorted(allowed))})")
    spec = model_spec(meter["model"])
    channel = given.get("channel")
    if isinstance(channel, bool) or not isinstance(channel, int):
        raise InvalidInput(f"settings.channel: a channel number of the meter, got {channel!r}")
    parameter = given.get("parameter")
    if spec is None:
        raise InvalidInput(f"meter {meter['serial']}: model {meter['model']!r} is not in the device catalogue")
    try:
        channel_spec = spec.channel(channel)
    except catalogue.UnknownChannel as exc:
        raise InvalidInput(f"settings.channel: {exc}") from None
    if parameter not in channel_spec.parameters:
        raise InvalidInput(f"settings.parameter: channel {channel} has {', '.join(channel_spec.parameters)}, "
                           f"got {parameter!r}")
    try:
        kind = ArchiveKind(str(given.get("kind")))
    except ValueError:
        raise InvalidInput(f"settings.kind: hour, day or month, got {given.get('kind')!r}") from None
    if not spec.has_archive(kind):
        raise InvalidInput(f"settings.kind: {meter['model']} keeps no {kind.value} archive")
    period = given.get("period")
    if isinstance(period, str):
        try:
            period = datetime.fromisoformat(period)
        except ValueError:
            raise InvalidInput(f"settings.period: a local date and time, got {period!r}") from None
    if not isinstance(period, datetime):
        raise InvalidInput("settings.period: the local start of the archive period to correct")
    period = period.replace(tzinfo=None)
    check_day("settings.period", period)
    if period_start(kind, period) != period:
        raise InvalidInput(f"settings.period: {period.isoformat()} is not the start of a {kind.value} period")
    utc = local_to_utc(period, zone(meter["time_zone"]))
    if utc >= at + timedelta(days=1):
        raise InvalidInput(f"settings.period: {period.isoformat()} is after the operation's date")
    value = given.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or not 0 <= value <= MAX_VALUE:
        raise InvalidInput(f"settings.value: a finite reading from 0 to {MAX_VALUE:g}, got {value!r}")
    return {"channel": channel, "parameter": parameter, "kind": kind.value, "period_local": period.isoformat(),
            "period_utc": utc.isoformat(), "value": float(value)}


def judge(op: rules.Operation, result: dict[str, Any], meter: Mapping[str, Any]) -> tuple[bool, str, dict[str, Any]]:
    """An automatic operation's verdict on its command's ``done`` result: (ok, notes, settings kept)."""
    if op.effect is rules.Effect.AVAILABILITY:
        took = result.get("response_ms")
        took_text = f"{took} мс" if took is not None else f"{result.get('response_s', '?')} с"
        return True, f"ПУ доступен, ответ за {took_text}", dict(result)
    if op.effect is rules.Effect.TIME_SERVICE:
        if "device_time_set" in result:
            return True, f"часы ПУ установлены: {result['device_time_set']}", dict(result)
        return True, (f"ПУ включён в службу времени; расхождение часов было {result.get('offset_before_s', '?')} с, "
                      f"стало {result.get('offset_after_s', result.get('offset_before_s', '?'))} с"), dict(result)
    found = result.get("values")
    values: dict[str, Any] = found if isinstance(found, dict) else {}
    if op.effect is rules.Effect.READ_CURRENT:
        shown = "; ".join(f"канал {ch}: " + (", ".join(f"{p}={v}" for p, v in vals.items())
                                              if isinstance(vals, dict) else str(vals))
                          for ch, vals in sorted(values.items()))
        return True, f"текущие показания ({result.get('device_time', 'время ПУ неизвестно')}): {shown or 'нет'}", \
            dict(result)
    # PASSPORT: what the device says against the registry
    problems = []
    if "serial" in result and str(result["serial"]) != str(meter["serial"]).lstrip("0"):
        if str(result["serial"]) != str(meter["serial"]):
            problems.append(f"серийный номер ПУ {result['serial']}, в реестре {meter['serial']}")
    if "model" in result and str(result["model"]) != str(meter["model"]):
        problems.append(f"модель ПУ {result['model']}, в реестре {meter['model']}")
    device_channels = sorted(int(ch) for ch in values if str(ch).isdigit())
    unknown = [ch for ch in device_channels if ch not in meter["channels"]]
    if unknown:
        problems.append(f"каналы {unknown} не описаны в реестре (в реестре: {sorted(meter['channels'])})")
    if not device_channels:
        problems.append("ПУ не сообщил ни одного канала")
    if problems:
        return False, "паспортные данные не согласованы: " + "; ".join(problems), dict(result)
    checked = "серийный номер, модель и " if "serial" in result and "model" in result else ""
    return True, (f"паспортные данные согласованы: {checked}каналы {device_channels} ПУ {meter['serial']} "
                  "соответствуют реестру"), dict(result)


def start_refusal(meter: sqlite3.Row, kind: rules.Kind, procedures: Iterable[ProcedureInfo],
                  intervals: list[Outage], now: datetime) -> str:
    """Why ``kind`` cannot start on the meter now ("" when it can)."""
    procedures = list(procedures)
    active = next((p for p in procedures if p.state == "active"), None)
    if active is not None:
        return f"meter {meter['serial']} already has an active procedure «{active.name}» (#{active.id})"
    status = lifecycle_status(meter, now)
    if status == "decommissioned" and kind is not rules.Kind.CORRECTION:
        return f"meter {meter['serial']} is decommissioned"
    commissioned = utc_time(meter["commissioned_at"])
    installed = any(p.kind == "install" and p.state == "completed" for p in procedures)
    if kind is rules.Kind.INSTALL and (installed or (commissioned is not None and commissioned <= now)):
        return (f"meter {meter['serial']} is commissioned already; its settings change through verification "
                "or repair")
    if kind in (rules.Kind.VERIFICATION, rules.Kind.REPAIR, rules.Kind.RECONCILIATION) and (
            status == "commissioning" and not installed):
        return f"meter {meter['serial']} is not commissioned yet: install it first"
    if kind is rules.Kind.RECONCILIATION and out_of_service(intervals, now):
        return f"meter {meter['serial']} is out of service and not polled"
    return ""
