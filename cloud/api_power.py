"""/api/v1 routes of power limitation (manual 4.5.8) and relay thresholds (4.6.11); every answer is
cloud/services/power_limits.py's, whose docstring says who may do what.

Routes use cloud.api's Token, _service and parameter types (imported inside ``routes``: cloud.api
imports this module). Tests: tests/integration/test_power.py.
"""

# no ``from __future__ import annotations``: FastAPI reads the routes' annotations, whose types
# (Token, PathId, Day) are imported inside ``routes`` and so are not module globals it could resolve
from datetime import date
from enum import Enum
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from cloud.services.container import Services
from cloud.services.models import MAX_ID
from cloud.services.power_limits import (
    BuildingThreshold,
    CityThreshold,
    Limitation,
    PremisePower,
    RelayThresholds,
    ThresholdChange,
)
from cloud.services.power_rules import MAX_DEBT, MAX_THRESHOLD_W, MIN_THRESHOLD_W, REASONS, STATES

Watts = Annotated[int, Field(ge=MIN_THRESHOLD_W, le=MAX_THRESHOLD_W, description="whole watts")]


class LimitationIn(BaseModel):
    premise_id: int = Field(ge=1, le=MAX_ID)
    reason: Literal["debt", "repairs"]
    debt_amount: float | None = Field(default=None, gt=0, le=MAX_DEBT, allow_inf_nan=False,
                                      description="roubles owed (reason debt), kopecks at most")
    repairs_from: date | None = Field(default=None, description="start date of the works (reason repairs)")
    notify: bool = Field(default=False, description="tell the resident through ЭК")
    notify_on: date | None = Field(default=None, description="notification date (with notify)")
    control_on: date | None = Field(default=None, description="control date, not before notify_on (with notify)")


class CityThresholdIn(BaseModel):
    threshold_w: Watts | None = Field(description="the city's default; null removes it")


class BuildingThresholdIn(BaseModel):
    building_id: int = Field(ge=1, le=MAX_ID)
    threshold_w: Watts | None = Field(description="the building's own; null: back to the city's default")


class BuildingThresholdsIn(BaseModel):
    changes: list[BuildingThresholdIn] = Field(min_length=1, max_length=1000)


def routes(api: APIRouter, services: Services) -> None:
    """Add this module's operations to the /api/v1 router (operationIds are the function names)."""
    from cloud.api import PathId, Token, _service

    power = services.power
    tags: list[str | Enum] = ["power limitation"]
    settings_tags: list[str | Enum] = ["relay thresholds"]

    @api.get("/power/premises", response_model=list[PremisePower], tags=tags,
             description="Premises with a KARAT-941LW meter (its load relay is what a limitation switches) and "
                         "their limitation (manual 4.5.8): null when none is shown (never limited, or lifted). "
                         "`limitation.state` follows the relay command: sending, limited (the device confirmed), "
                         "failed, timed_out; lifting, lifted, lift_failed, lift_timed_out. `threshold_w` is what a "
                         "new limitation would use (the building's, else the city's default; null: none set, and "
                         "no limitation can start). Filters: `building_id`, `state` (\"none\" or a state), `reason`.")
    async def power_limitation_premises(
            token: Token, building_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
            state: Annotated[str | None, Query(max_length=20, description=f"none, {', '.join(STATES)}")] = None,
            reason: Annotated[str | None, Query(max_length=20, description=", ".join(REASONS))] = None
            ) -> list[PremisePower]:
        return await _service(power.premises(token, building_id=building_id, state=state, reason=reason))

    @api.get("/power/premises/{premise_id}", response_model=PremisePower, tags=tags,
             description="One premise with a relay meter as the list shows it; 404 when it has none.")
    async def power_limitation_premise(premise_id: PathId, token: Token) -> PremisePower:
        return await _service(power.premise(token, premise_id))

    @api.get("/power/premises/{premise_id}/limitations", response_model=list[Limitation], tags=tags,
             description="Every limitation of the premise, newest first, lifted ones too (its history).")
    async def power_limitation_history(premise_id: PathId, token: Token) -> list[Limitation]:
        return await _service(power.history(token, premise_id))

    @api.post("/power/limitations", response_model=Limitation, tags=tags,
              description="Limit a premise's power (a dispatcher; audited): reason debt with `debt_amount`, or "
                          "repairs with `repairs_from`; with `notify`, `notify_on` (from today) and `control_on` "
                          "(not before it). A relay command sets the premise's 941LW relay to LIMIT at the "
                          "threshold in force; refused (422) with no threshold, with a limitation in force, or "
                          "with no 941LW meter in service.")
    async def start_power_limitation(body: LimitationIn, token: Token) -> Limitation:
        return await _service(power.start(token, body.premise_id, body.reason, debt_amount=body.debt_amount,
                                          repairs_from=body.repairs_from, notify=body.notify,
                                          notify_on=body.notify_on, control_on=body.control_on))

    @api.get("/power/limitations/{limitation_id}", response_model=Limitation, tags=tags,
             description="One limitation with its relay command's state.")
    async def power_limitation(limitation_id: PathId, token: Token) -> Limitation:
        return await _service(power.get(token, limitation_id))

    @api.post("/power/limitations/{limitation_id}/lift", response_model=Limitation, tags=tags,
              description="Lift the limitation: a relay command sets the relay back ON (a dispatcher; audited). "
                          "Allowed when the relay limits (state limited) or the previous lift failed or timed out.")
    async def lift_power_limitation(limitation_id: PathId, token: Token) -> Limitation:
        return await _service(power.lift(token, limitation_id))

    @api.post("/power/limitations/{limitation_id}/retry", response_model=Limitation, tags=tags,
              description="Send the limit command again after it failed or timed out (a dispatcher; audited).")
    async def retry_power_limitation(limitation_id: PathId, token: Token) -> Limitation:
        return await _service(power.retry(token, limitation_id))

    @api.get("/settings/relay-thresholds", response_model=RelayThresholds, tags=settings_tags,
             description="Relay thresholds in W (manual 4.6.11): each city's default and each building's value "
                         "(`own_w` its own, null when it follows the city; `threshold_w` the one in force).")
    async def relay_thresholds(token: Token) -> RelayThresholds:
        return await _service(power.thresholds(token))

    @api.put("/settings/relay-thresholds/cities/{city_id}", response_model=CityThreshold, tags=settings_tags,
             description="Set or (null) remove a city's default threshold (a dispatcher; audited).")
    async def set_city_relay_threshold(city_id: PathId, body: CityThresholdIn, token: Token) -> CityThreshold:
        return await _service(power.set_city_threshold(token, city_id, body.threshold_w))

    @api.put("/settings/relay-thresholds/buildings", response_model=list[BuildingThreshold], tags=settings_tags,
             description="Set buildings' own thresholds, or (null) return them to the city's default; all or "
                         "nothing (a dispatcher; audited).")
    async def set_building_relay_thresholds(body: BuildingThresholdsIn, token: Token) -> list[BuildingThreshold]:
        changes = [ThresholdChange(c.building_id, c.threshold_w) for c in body.changes]
        return await _service(power.set_building_thresholds(token, changes))
