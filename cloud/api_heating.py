"""/api/v1 routes of heating seasons, temperature schedules and their control (manual 4.5.7, 4.6.8,
4.2.5); every figure the pages show is an answer here (cloud/services/heating.py).

Routes use cloud.api's Token, _service and parameter types (imported inside ``routes``: cloud.api
imports this module). Tests: tests/integration/test_heating.py.
"""

# no ``from __future__ import annotations``: FastAPI reads the routes' annotations, whose types
# (Token, PathId, Day) are imported inside ``routes`` and so are not module globals it could resolve
from collections.abc import Awaitable
from datetime import date
from enum import Enum
from typing import Annotated, Literal, TypeVar

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from cloud.services.container import Services
from cloud.services.heating import (
    BuildingSeason,
    SchedulePoint,
    SeasonChange,
    TemperatureControl,
    TemperatureSchedule,
)
from cloud.services.heating_rules import RuleError
from cloud.services.models import MAX_ID, Granularity, InvalidInput

T = TypeVar("T")

MAX_POINTS = 111  # outdoor temperatures of one schedule: -70 .. +40 degC


class SeasonIn(BaseModel):
    building_ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(
        min_length=1, max_length=1000, description="one building, or a group all in the same season now")
    season: Literal["heating", "non_heating"]
    starts_on: date = Field(description="the local date the season starts: not before the previous change's "
                                        "start, not on it, not after today")


class PointIn(BaseModel):
    outdoor_c: int = Field(ge=-70, le=40, description="outdoor air temperature, degC (an integer)")
    supply_c: float = Field(ge=0, le=200, allow_inf_nan=False, description="supply water temperature, degC")
    return_c: float = Field(ge=0, le=200, allow_inf_nan=False, description="return water temperature, degC")


class ScheduleIn(BaseModel):
    points: list[PointIn] = Field(min_length=2, max_length=MAX_POINTS,
                                  description="the whole table, at exactly the outdoor temperatures of the city's "
                                              "default schedule")


async def _plain(call: Awaitable[T]) -> T:
    """A rule's refusal as the InvalidInput it is (cloud.api maps error types to statuses exactly: 422)."""
    try:
        return await call
    except RuleError as error:
        raise InvalidInput(str(error)) from error


def routes(api: APIRouter, services: Services) -> None:
    """Add the routes to ``api`` (the /api/v1 router; operationIds are the function names)."""
    from cloud.api import Day, PathId, Token, _service

    heating = services.heating
    season_tags: list[str | Enum] = ["heating season"]
    schedule_tags: list[str | Enum] = ["temperature schedule"]

    @api.get("/heating-seasons", response_model=list[BuildingSeason], tags=season_tags,
             description="The heating season in force today for every building of the company (manual 4.5.7): "
                         "`season` is \"heating\", \"non_heating\" or null when never set; `starts_on` its local "
                         "start date; `set_by` / `set_at` who set it and when (building's local time); `undoable` "
                         "true when it was set today and may still be undone.")
    async def heating_seasons(token: Token) -> list[BuildingSeason]:
        return await _service(heating.seasons(token))

    @api.post("/heating-seasons", response_model=list[BuildingSeason], tags=season_tags,
              description="Start a season on `starts_on` for one building or a group (a dispatcher). Refused (422) "
                          "when a start is after today (building's local date), before the previous change's start or "
                          "on it, when the building's season was changed today already (undo first), when a building "
                          "is in that season already, or when the group's buildings are not all in the same season "
                          "now. Audited.")
    async def set_heating_season(body: SeasonIn, token: Token) -> list[BuildingSeason]:
        return await _service(_plain(heating.set_season(token, body.building_ids, body.season, body.starts_on)))

    @api.post("/buildings/{building_id}/heating-season/undo", response_model=BuildingSeason, tags=season_tags,
              description="Undo the building's latest season change; only on the (local) day it was made. "
                          "A dispatcher; audited.")
    async def undo_heating_season(building_id: PathId, token: Token) -> BuildingSeason:
        return await _service(_plain(heating.undo_season(token, building_id)))

    @api.get("/buildings/{building_id}/heating-season/history", response_model=list[SeasonChange],
             tags=season_tags, description="Every season change of the building, newest first, with who made it "
                                           "and when (local time); `undone_at` is set for undone ones.")
    async def heating_season_history(building_id: PathId, token: Token) -> list[SeasonChange]:
        return await _service(heating.season_history(token, building_id))

    @api.get("/buildings/{building_id}/temperature-schedule", response_model=TemperatureSchedule,
             tags=schedule_tags,
             description="The building's temperature schedule (manual 4.6.8): supply and return water temperature "
                         "(degC) per integer outdoor temperature (degC), warm to cold. `own` false: the building has "
                         "none and `points` are the default (`source` \"city\": the city's, \"builtin\": the "
                         "standard 95/70 schedule for t_design = -30 degC); `default_points` is always the default. "
                         "Tolerances in %: supply ±`supply_tolerance_pct`, return +`return_tolerance_pct`.")
    async def temperature_schedule(building_id: PathId, token: Token) -> TemperatureSchedule:
        return await _service(heating.schedule(token, building_id))

    @api.put("/buildings/{building_id}/temperature-schedule", response_model=TemperatureSchedule,
             tags=schedule_tags,
             description="Make `points` the building's own schedule (a dispatcher; audited). The outdoor "
                         "temperatures must be those of the default; return <= supply.")
    async def set_temperature_schedule(building_id: PathId, body: ScheduleIn, token: Token) -> TemperatureSchedule:
        points = [SchedulePoint(p.outdoor_c, p.supply_c, p.return_c) for p in body.points]
        return await _service(_plain(heating.set_schedule(token, building_id, points)))

    @api.delete("/buildings/{building_id}/temperature-schedule", response_model=TemperatureSchedule,
                tags=schedule_tags,
                description="Delete the building's own schedule: the default applies again (a dispatcher; audited).")
    async def reset_temperature_schedule(building_id: PathId, token: Token) -> TemperatureSchedule:
        return await _service(_plain(heating.reset_schedule(token, building_id)))

    @api.get("/buildings/{building_id}/temperature-control", response_model=TemperatureControl,
             tags=["monitoring"],
             description="Temperature schedule control (manual 4.2.5) of a building heat meter (`meter_id`, default "
                         "the first building meter with supply T1 and return T2 temperatures). granularity=day: the "
                         "days of the month of `period` up to today; granularity=hour: the hours of the day "
                         "`period`, information only (never judged). Per row, in degC: `outdoor_c` = Tнв, the mean "
                         "of the nearest weather station's hourly observations in the (local) day; `supply_c` / "
                         "`return_c` the mean of the meter's hourly T1 / T2 archives; `prescribed_*` the schedule "
                         "at Tнв, linear between its integer points and clamped to its end rows; `*_delta` = "
                         "actual - prescribed (K) and `*_delta_pct` in %. `supply_violation` is true when |%∆| > "
                         "`supply_tolerance_pct` (3), `return_violation` when %∆ > +`return_tolerance_pct` (5; a "
                         "lower return is not limited); null when not judged: an hour, a day with a missing hourly "
                         "value (`*_hours` < `hours`) or without Tнв. Missing values are null, never zero. Days "
                         "outside the heating season are not shown (`outside_days`); see /heating-seasons.")
    async def temperature_schedule_control(
            building_id: PathId, token: Token,
            meter_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
            granularity: Literal["day", "hour"] = "day", period: Day | None = None) -> TemperatureControl:
        return await _service(heating.control(token, building_id, meter_id=meter_id,
                                              granularity=Granularity(granularity), period=period))
