"""The deviation rules of manual 4.2.1/4.6.7 (cloud/services/deviations.py) with hand-computed
numbers: the mean of the three previous days, percent and absolute tolerances, each direction,
the limit itself, a reference of 0, missing values, and the periods a report covers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cloud.services import consumption as calc
from cloud.services.deviations import (
    DeviationRule,
    _labels,
    _Values,
    allowed_deviation,
    judge,
    mean,
    mean_periods,
)
from cloud.services.models import ChannelInfo, InvalidInput, MeterInfo
from protocol.periods import local_to_utc, zone
from protocol.vocabulary import ArchiveKind, MeterRole, Resource

TZ = zone("Europe/Moscow")


def test_mean_needs_every_value() -> None:
    assert mean([0.03, 0.04, 0.05]) == 0.04  # 0.12 / 3
    assert mean([0.03, None, 0.05]) is None  # one missing: the mean cannot be computed
    assert mean([]) is None


def test_allowed_deviation() -> None:
    assert allowed_deviation(0.035, 40, "percent") == 0.014  # 0.035 x 0.40
    assert allowed_deviation(-20.0, 10, "percent") == 2.0  # of |reference|
    assert allowed_deviation(70.0, 5, "absolute") == 5.0  # in the parameter's unit, whatever the reference


@pytest.mark.parametrize(("direction", "value", "violated"), [
    # reference 100, 10 % -> allowed 10
    ("both", 111, True), ("both", 89, True), ("both", 110, False), ("both", 90, False),  # 110 / 90: at the limit
    ("above", 111, True), ("above", 50, False),  # only upwards is limited
    ("below", 89, True), ("below", 150, False),  # only downwards is limited
])
def test_judge_directions(direction: str, value: float, violated: bool) -> None:
    verdict = judge(value, 100.0, direction, 10, "percent")
    assert verdict.violated is violated
    assert verdict.allowed == 10.0
    assert verdict.deviation == value - 100
    assert verdict.deviation_pct == value - 100  # of a reference of 100


def test_judge_numbers() -> None:
    v = judge(0.05, 0.035, "both", 40, "percent")  # 0.015 above 0.035: 42.857 % > 40 %
    assert (v.violated, v.deviation, v.deviation_pct, v.allowed) == (True, 0.015, 42.86, 0.014)
    v = judge(0.05, 0.035, "both", 0.015, "absolute")  # 0.015 exactly: allowed
    assert v.violated is False
    v = judge(0.2, 0.0, "above", 50, "percent")  # 50 % of 0 is 0: any rise is a violation; no %
    assert (v.violated, v.deviation_pct, v.allowed) == (True, None, 0.0)


def test_mean_periods() -> None:
    hours = mean_periods("hour", datetime(2026, 1, 14, 14))
    assert (len(hours), hours[0], hours[-1]) == (72, datetime(2026, 1, 11), datetime(2026, 1, 13, 23))
    assert mean_periods("day", datetime(2026, 3, 1)) == [datetime(2026, 2, 26), datetime(2026, 2, 27),
                                                         datetime(2026, 2, 28)]


def test_labels() -> None:
    default = datetime(2026, 1, 14, 14)
    assert _labels(ArchiveKind.HOUR, None, None, default) == [default]
    assert _labels(ArchiveKind.HOUR, datetime(2026, 1, 14, 10, 30), None, default) == [datetime(2026, 1, 14, 10)]
    assert len(_labels(ArchiveKind.HOUR, datetime(2026, 1, 1), datetime(2026, 1, 31, 23), default)) == 744
    assert _labels(ArchiveKind.DAY, datetime(2026, 1, 1, 5), datetime(2026, 1, 3), default) == [
        datetime(2026, 1, 1), datetime(2026, 1, 2), datetime(2026, 1, 3)]
    with pytest.raises(InvalidInput, match="before"):
        _labels(ArchiveKind.HOUR, datetime(2026, 1, 2), datetime(2026, 1, 1), default)
    with pytest.raises(InvalidInput, match="744"):
        _labels(ArchiveKind.HOUR, datetime(2026, 1, 1), datetime(2026, 2, 1), default)
    with pytest.raises(InvalidInput, match="from"):
        _labels(ArchiveKind.HOUR, datetime(1990, 1, 1), None, default)


def _meter(**lifecycle: object) -> MeterInfo:
    return MeterInfo(1, "307T0001", "KARAT-307", MeterRole.COMMON, 1, None, None,
                     (ChannelInfo(1, Resource.HEAT, ("Q", "T1")),), "Modbus TCP", "hour, integral", "in_service",
                     **lifecycle)  # type: ignore[arg-type]


def _rule(parameter: str, **kw: object) -> DeviationRule:
    values: dict = {"enabled": True, "rule": "mean3d", "reference": None, "direction": "both", "tolerance": 10.0,
                    "tolerance_unit": "percent", **kw}
    unit = "Gcal" if parameter == "Q" else "degC"
    return DeviationRule(1, Resource.HEAT, parameter, unit, values["enabled"], values["rule"], values["reference"],
                         values["direction"], values["tolerance"], values["tolerance_unit"], True)


def _values(parameter: str, readings: dict[datetime, float], meter: MeterInfo | None = None) -> _Values:
    meter = meter or _meter()
    records = {local_to_utc(k, TZ): v for k, v in readings.items()}
    archive = calc.Archive(integral={ArchiveKind.HOUR: records})
    src = calc.Source(kinds=frozenset({ArchiveKind.HOUR}), commissioned=meter.commissioned_at,
                      decommissioned=meter.decommissioned_at)
    return _Values(meter, meter.channels[0], parameter, src, archive, ArchiveKind.HOUR, TZ)


def _counter(start: datetime, hours: int, per_hour: float, reading: float = 100.0) -> dict[datetime, float]:
    """Readings of a counter from the hour before ``start``: ``reading`` + per_hour x n."""
    return {start + timedelta(hours=n - 1): round(reading + per_hour * n, 6) for n in range(hours + 1)}


def test_values_from_integral_differences() -> None:
    # 0.035 Gcal every hour of Jan 11..13, then 0.050 in the hour Jan 14 00:00
    readings = _counter(datetime(2026, 1, 11), 72, 0.035)  # the last reading, Jan 13 23:00: 102.52
    readings[datetime(2026, 1, 14)] = 102.57
    values = _values("Q", readings)
    check = values.check(_rule("Q", tolerance=40), datetime(2026, 1, 14))
    assert check is not None
    assert (check.status, check.value, check.reference, check.deviation_pct) == ("violation", 0.05, 0.035, 42.86)
    assert values.check(_rule("Q", tolerance=50), datetime(2026, 1, 14)).status == "ok"  # type: ignore[union-attr]
    # the hour Jan 14 01:00 has no record: no data, not a violation
    missing = values.check(_rule("Q", tolerance=1), datetime(2026, 1, 14, 1))
    assert (missing.status, missing.value) == ("no_data", None)  # type: ignore[union-attr]


def test_mean_with_a_gap_cannot_be_computed() -> None:
    readings = _counter(datetime(2026, 1, 11), 72, 0.035)
    del readings[datetime(2026, 1, 12, 5)]  # two hours lose their value: 12 05:00 and 12 06:00
    readings[datetime(2026, 1, 14)] = 102.57
    check = _values("Q", readings).check(_rule("Q"), datetime(2026, 1, 14))
    assert (check.status, check.value, check.mean_needed, check.mean_known) == (  # type: ignore[union-attr]
        "no_mean", 0.05, 72, 70)


def test_temperature_as_stored_and_constant() -> None:
    values = _values("T1", {datetime(2026, 1, 14, 14): 80.0})
    check = values.check(_rule("T1", rule="constant", reference=70.0, tolerance=5.0, tolerance_unit="absolute"),
                         datetime(2026, 1, 14, 14))
    assert (check.status, check.value, check.deviation, check.allowed) == (  # type: ignore[union-attr]
        "violation", 80.0, 10.0, 5.0)


def test_outside_the_service_period_nothing_is_checked() -> None:
    meter = _meter(commissioned_at=datetime(2026, 1, 14, 10, tzinfo=UTC))  # 13:00 Moscow
    values = _values("T1", {datetime(2026, 1, 14, 12): 80.0, datetime(2026, 1, 14, 14): 80.0}, meter)
    rule = _rule("T1", rule="constant", reference=70.0, tolerance=5.0, tolerance_unit="absolute")
    assert values.check(rule, datetime(2026, 1, 14, 12)) is None  # before commissioning
    assert values.check(rule, datetime(2026, 1, 14, 14)).status == "violation"  # type: ignore[union-attr]
