"""Weather rules worked by hand (cloud/services/weather.py, cloud/weather_feed.py,
simulators/weather_station.py): great-circle distances, the nearest station, a period's mean
outdoor temperature from enough of its hours, what a station's answer must be, and the
simulated station's hours."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cloud.services.models import Granularity, InvalidInput
from cloud.services.weather import (
    Observation,
    Station,
    check_observation,
    check_station,
    distance_km,
    nearest,
    period_means,
)
from cloud.weather_feed import FeedError, WeatherFeedConfig, parse_answer
from protocol.periods import zone
from simulators.weather_station import KAZAN, BadRequest, WeatherStation
from simulators.world import outdoor_temperature

KAZAN_ST = Station(1, "KZN", "Казань", 55.79, 49.12)
MOSCOW_ST = Station(2, "MSK", "Москва", 55.75, 37.62)


def test_distance_kazan_to_moscow() -> None:
    # haversine: dphi = -0.04 deg, dlambda = 11.5 deg; cos 55.79 * cos 55.75 = 0.5622 * 0.5628 = 0.3164,
    # sin^2(5.75 deg) = 0.100188^2 = 0.010038; a = 1.22e-7 + 0.3164 * 0.010038 = 0.0031762;
    # c = 2 asin(sqrt a) = 2 asin(0.056357) = 0.112774 rad; 6371 km * 0.112774 = 718.5 km
    assert distance_km(55.79, 49.12, 55.75, 37.62) == pytest.approx(718.5, abs=0.1)
    # one degree of the equator: 6371 * pi / 180 = 111.19 km; a point to itself: 0
    assert distance_km(0.0, 0.0, 0.0, 1.0) == pytest.approx(111.19, abs=0.01)
    assert distance_km(55.79, 49.12, 55.79, 49.12) == 0.0


def test_the_nearest_station_by_the_buildings_coordinates() -> None:
    both = [MOSCOW_ST, KAZAN_ST]
    assert nearest(both, 55.80, 49.10) == KAZAN_ST  # a building in Kazan: ~1.7 km vs ~717 km
    assert nearest(both, 55.76, 37.60) == MOSCOW_ST  # a building in Moscow
    # Cheboksary 56.13, 47.25: to Kazan dlambda 1.87 deg, dphi 0.34 deg -> ~123 km; to Moscow ~600 km
    assert nearest(both, 56.13, 47.25) == KAZAN_ST
    # equally far (one degree either side on the equator): the lower id
    west, east = Station(2, "W", "W", 0.0, -1.0), Station(1, "E", "E", 0.0, 1.0)
    assert nearest([west, east], 0.0, 0.0) == east
    # no coordinates or no stations: none (the page says which)
    assert nearest(both, None, None) is None
    assert nearest([], 55.8, 49.1) is None


def _day(day: int, hour: int) -> datetime:
    return datetime(2026, 1, day, hour, tzinfo=UTC)


def test_a_days_mean_needs_half_of_its_hours() -> None:
    utc = zone("UTC")
    labels = [datetime(2026, 1, 10), datetime(2026, 1, 11), datetime(2026, 1, 12)]
    hourly = {_day(10, h): float(h) for h in range(24)}  # 0 .. 23: mean (0 + 23) / 2 = 11.5
    hourly |= {_day(11, h): 1.0 if h < 6 else 2.0 for h in range(12)}  # 12 of 24: (6*1 + 6*2) / 12 = 1.5
    hourly |= {_day(12, h): -4.0 for h in range(11)}  # 11 of 24 < half: none
    assert period_means(hourly, labels, Granularity.DAY, utc, _day(13, 0)) == [11.5, 1.5, None]
    # at 06:00 of the 12th only its hours 00..05 have passed, and all six were observed: -4.0;
    # the 13th has not begun: none
    labels13 = [*labels, datetime(2026, 1, 13)]
    assert period_means(hourly, labels13, Granularity.DAY, utc, _day(12, 6)) == [11.5, 1.5, -4.0, None]


def test_days_are_the_buildings_local_days() -> None:
    # Moscow is UTC+3: the local day 2026-01-10 is 2026-01-09 21:00 .. 2026-01-10 21:00 UTC
    hourly = {datetime(2026, 1, 9, 21, tzinfo=UTC): -9.0} | {_day(10, h): -3.0 for h in range(21)}
    # 1 * -9 + 21 * -3 = -72 over 22 hours = -3.27 -> -3.3; the local 11th has 0 of its hours
    assert period_means(hourly, [datetime(2026, 1, 10), datetime(2026, 1, 11)], Granularity.DAY,
                        zone("Europe/Moscow"), _day(14, 0)) == [-3.3, None]


def test_a_stations_answer_is_checked() -> None:
    assert check_station(" KZN ", "Казань", 55.79, 49) == ("KZN", "Казань", 55.79, 49.0)
    with pytest.raises(InvalidInput, match=r"^station\.latitude: a number from -90 to 90"):
        check_station("KZN", "Казань", 91.0, 49.1)
    with pytest.raises(InvalidInput, match=r"^station\.code"):
        check_station("", "Казань", 55.0, 49.1)
    assert check_observation("2026-01-10T05:00:00+03:00", -7) == Observation(_day(10, 2), -7.0)
    with pytest.raises(InvalidInput, match=r"^observation\.at: give the zone"):
        check_observation("2026-01-10T05:00:00", -7.0)
    with pytest.raises(InvalidInput, match=r"^observation\.at: the start of an hour"):
        check_observation("2026-01-10T05:30:00Z", -7.0)
    with pytest.raises(InvalidInput, match=r"^observation\.temperature_c"):
        check_observation("2026-01-10T05:00:00Z", 99.0)
    with pytest.raises(InvalidInput, match=r"^observation\.temperature_c"):
        check_observation("2026-01-10T05:00:00Z", True)


def test_parse_answer_names_what_is_wrong() -> None:
    doc = {"station": {"code": "KZN", "name": "Казань", "latitude": 55.79, "longitude": 49.12},
           "observations": [{"at": "2026-01-10T00:00:00Z", "temperature_c": -5.5}]}
    answer = parse_answer(doc)
    assert (answer.code, answer.observations) == ("KZN", (Observation(_day(10, 0), -5.5),))
    with pytest.raises(FeedError, match="'station' object"):
        parse_answer({"observations": []})
    with pytest.raises(FeedError, match=r"^observation\.temperature_c"):
        parse_answer({**doc, "observations": [{"at": "2026-01-10T00:00:00Z", "temperature_c": "cold"}]})
    with pytest.raises(FeedError, match="at most 744"):
        parse_answer({**doc, "observations": [{}] * 745})


def test_feed_config_bounds() -> None:
    with pytest.raises(ValueError, match=r"^url"):
        WeatherFeedConfig("ftp://station")
    with pytest.raises(ValueError, match=r"^interval_s"):
        WeatherFeedConfig("http://station", interval_s=0.0)


def test_the_simulated_station_reports_the_simulators_weather_up_to_now() -> None:
    station = WeatherStation(7, KAZAN, now=lambda: _day(10, 2))
    got = station.observations(datetime(2026, 1, 9, 23, 30, tzinfo=UTC), _day(10, 6))
    # hours from the first whole one (00:00) to now (02:00) inclusive: 00, 01, 02
    assert [o["at"] for o in got] == ["2026-01-10T00:00:00Z", "2026-01-10T01:00:00Z", "2026-01-10T02:00:00Z"]
    assert got[1]["temperature_c"] == outdoor_temperature(_day(10, 1), 7)
    answer = station.answer({})  # no parameters: the last hour up to now: 01:00 and 02:00
    assert answer["station"] == {"code": "SIM-KZN", "name": "Казань (погода симулятора)", "latitude": 55.79,
                                 "longitude": 49.12}
    assert [o["at"] for o in answer["observations"]] == ["2026-01-10T01:00:00Z", "2026-01-10T02:00:00Z"]
    with pytest.raises(BadRequest, match=r"^to: at most 744 hours"):
        station.observations(_day(1, 0), datetime(2026, 2, 1, 1, tzinfo=UTC))
    with pytest.raises(BadRequest, match=r"^from: give the zone"):
        station.answer({"from": "2026-01-10T00:00:00"})
    with pytest.raises(BadRequest, match=r"^to: .* is before from"):
        station.answer({"from": "2026-01-10T05:00:00Z", "to": "2026-01-10T01:00:00Z"})
