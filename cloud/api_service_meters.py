"""/api/v1 routes of the service meters list (manual 4.5.1), a meter's measuring channels and sensors
(4.5.3) and the verification calendar (4.5.4): cloud/services/service_meters.py and verification.py.

Routes use cloud.api's Token, _service and parameter types (imported inside ``routes``: cloud.api
imports this module). Tests: tests/integration/test_service_meters.py.
"""

# no ``from __future__ import annotations``: FastAPI reads the routes' annotations

from collections.abc import Awaitable
from datetime import date
from enum import Enum
from typing import Annotated, Literal, TypeVar

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from cloud.services.container import Services
from cloud.services.models import MAX_ID, InvalidInput
from cloud.services.service_meters import (
    MeasuringChannel,
    MeterChannels,
    MeterFilter,
    SensorInfo,
    ServiceMeters,
)
from cloud.services.service_meters_rules import SENSOR_QUANTITIES, Member, RuleError
from cloud.services.verification import VerificationCalendar, VerificationFilter, VerificationList
from protocol.vocabulary import MeterRole, Resource

T = TypeVar("T")

SensorKind = Literal["flow_transducer", "temperature_sensor", "water_meter", "pulse_meter"]
LineType = Literal["tcp", "gprs", "lora", "unknown"]
Ids = list[Annotated[int, Field(ge=1, le=MAX_ID)]]
Text = Annotated[str, Field(max_length=64)]
MAX_CHOICES = 1000


class StrictIn(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MemberIn(StrictIn):
    sensor_id: int | None = Field(default=None, ge=1, le=MAX_ID,
                                  description="a sensor of the meter; null: the meter itself")
    quantity: Text = Field(description="the quantity the instrument registers in this channel (V, V1, T1, ...)")


class ChannelIn(StrictIn):
    resource: Resource
    resource_number: int = Field(ge=1, le=16, description="the n-th device channel of that resource on the meter")
    parameter: Text = Field(description="the parameter the channel gives; the device channel must report it")
    members: list[MemberIn] = Field(min_length=1, max_length=32,
                                    description="one instrument registering `parameter`: a simple channel; several "
                                                "measuring other quantities it is computed from: a composite one")


class BindingIn(StrictIn):
    channel_id: int = Field(ge=1, le=MAX_ID)
    quantity: Text


class BindingsIn(StrictIn):
    bindings: list[BindingIn] = Field(max_length=256, description="all the channels the sensor is to be bound to")


class SensorIn(StrictIn):
    kind: SensorKind
    serial: Text
    model: Text = ""
    verified_on: date | None = None
    next_verification_on: date | None = None


class SensorPatch(StrictIn):
    kind: SensorKind | None = None
    serial: Text | None = None
    model: Text | None = None
    verified_on: date | None = None
    next_verification_on: date | None = None


async def _plain(call: Awaitable[T]) -> T:
    """A rule's refusal as the InvalidInput it is (422)."""
    try:
        return await call
    except RuleError as error:
        raise InvalidInput(str(error)) from error


def routes(api: APIRouter, services: Services) -> None:
    """Add this module's operations to the /api/v1 router (operationIds are the function names)."""
    from cloud.api import Day, PathId, Token, _service

    meters, verification = services.service_meters, services.verification
    tags: list[str | Enum] = ["service meters"]
    verification_tags: list[str | Enum] = ["verification"]

    @api.get("/service/meters", response_model=ServiceMeters, tags=tags,
             description="The company's meters for the service engineer (manual 4.5.1), grouped by premise with the "
                         "building meters first. Every list filter is \"all\" when empty or when it names every "
                         "option; `number` and `barcode` match a part. `active` true: in service now. `may_add`: the "
                         "caller may add a meter (a service engineer).")
    async def service_meters_list(
            token: Token, building: Annotated[Ids, Query(max_length=MAX_CHOICES)] = [],  # noqa: B006
            premise: Annotated[Ids, Query(max_length=MAX_CHOICES)] = [],  # noqa: B006
            model: Annotated[list[Text], Query(max_length=MAX_CHOICES)] = [],  # noqa: B006
            number: Annotated[str, Query(max_length=64)] = "", barcode: Annotated[str, Query(max_length=64)] = "",
            role: Annotated[list[MeterRole], Query(max_length=2)] = [],  # noqa: B006
            resource: Annotated[list[Resource], Query(max_length=16)] = [],  # noqa: B006
            line_type: Annotated[list[LineType], Query(max_length=4)] = [],  # noqa: B006
            active: bool | None = None) -> ServiceMeters:
        filters = MeterFilter(tuple(building), tuple(premise), tuple(model), number, barcode, tuple(role),
                              tuple(resource), tuple(line_type), active)
        return await _service(meters.meters(token, filters))

    @api.get("/meters/{meter_id}/measuring-channels", response_model=MeterChannels, tags=tags,
             description="The meter's measuring channels (ИИК, manual 4.5.3), simple and composite, with the "
                         "instruments of each; its device channels with their resource numbers; its sensors with "
                         "passport data, verification dates and the channels each is bound to.")
    async def meter_measuring_channels(meter_id: PathId, token: Token) -> MeterChannels:
        return await _service(meters.channels(token, meter_id))

    @api.post("/meters/{meter_id}/measuring-channels", response_model=MeasuringChannel, status_code=201, tags=tags,
              description="Add a measuring channel (a dispatcher; audited). Refused (422) when the meter lacks that "
                          "resource number or parameter, when an instrument is listed twice or registers what its "
                          "kind cannot, when a simple channel's instrument does not register the parameter, or a "
                          "composite one's does.")
    async def create_measuring_channel(meter_id: PathId, body: ChannelIn, token: Token) -> MeasuringChannel:
        return await _service(_plain(meters.create_channel(
            token, meter_id, resource=body.resource.value, resource_number=body.resource_number,
            parameter=body.parameter, members=[Member(m.sensor_id, m.quantity) for m in body.members])))

    @api.put("/measuring-channels/{channel_id}", response_model=MeasuringChannel, tags=tags,
             description="Change a measuring channel as a whole (a dispatcher; audited; the rules of adding one).")
    async def update_measuring_channel(channel_id: PathId, body: ChannelIn, token: Token) -> MeasuringChannel:
        return await _service(_plain(meters.update_channel(
            token, channel_id, resource=body.resource.value, resource_number=body.resource_number,
            parameter=body.parameter, members=[Member(m.sensor_id, m.quantity) for m in body.members])))

    @api.delete("/measuring-channels/{channel_id}", status_code=204, response_class=Response, tags=tags,
                description="Delete a measuring channel; its sensors stay (a dispatcher; audited).")
    async def delete_measuring_channel(channel_id: PathId, token: Token) -> Response:
        await _service(_plain(meters.delete_channel(token, channel_id)))
        return Response(status_code=204)

    @api.put("/sensors/{sensor_id}/bindings", response_model=MeterChannels, tags=tags,
             description="Bind the sensor to exactly these channels of its meter, each with the quantity it "
                         "registers there (a dispatcher; audited per channel). Every channel touched must keep the "
                         "rules.")
    async def bind_sensor_channels(sensor_id: PathId, body: BindingsIn, token: Token) -> MeterChannels:
        return await _service(_plain(meters.bind_sensor(token, sensor_id,
                                                        [(b.channel_id, b.quantity) for b in body.bindings])))

    @api.post("/meters/{meter_id}/sensors", response_model=SensorInfo, status_code=201, tags=tags,
              description="Register a sensor of the meter with its passport and verification dates (a dispatcher or "
                          f"engineer; audited). Kinds and what they register: {SENSOR_QUANTITIES}.")
    async def create_meter_sensor(meter_id: PathId, body: SensorIn, token: Token) -> SensorInfo:
        return await _service(_plain(meters.add_sensor(token, meter_id, **body.model_dump())))

    @api.patch("/sensors/{sensor_id}", response_model=SensorInfo, tags=tags,
               description="Change a sensor's passport or verification dates (a dispatcher or engineer; audited); "
                           "a date given as null is cleared.")
    async def update_meter_sensor(sensor_id: PathId, body: SensorPatch, token: Token) -> SensorInfo:
        given = body.model_dump(exclude_unset=True)
        for key in ("kind", "serial", "model"):
            if key in given and given[key] is None:
                raise InvalidInput(f"{key}: may not be null")
        return await _service(_plain(meters.update_sensor(token, sensor_id, **given)))

    @api.delete("/sensors/{sensor_id}", status_code=204, response_class=Response, tags=tags,
                description="Remove a sensor bound to no channel (a dispatcher or engineer; audited).")
    async def delete_meter_sensor(sensor_id: PathId, token: Token) -> Response:
        await _service(_plain(meters.remove_sensor(token, sensor_id)))
        return Response(status_code=204)

    def _filters(building: list[int], model: list[str], number: str, resource: list[Resource],
                 role: list[MeterRole], kind: list[str]) -> VerificationFilter:
        return VerificationFilter(tuple(building), tuple(model), number, tuple(resource), tuple(role), tuple(kind))

    @api.get("/verification/due", response_model=VerificationList, tags=verification_tags,
             description="Meters and sensors whose next verification falls in [`from`, `to`], and those overdue "
                         "before it (`overdue` true: before the building's today; due today is not overdue). A "
                         "decommissioned meter and its sensors are never due. Filters as in /service/meters; `kind` "
                         "meter or sensor.")
    async def verification_due(
            token: Token, first: Annotated[Day, Query(alias="from")], last: Annotated[Day, Query(alias="to")],
            building: Annotated[Ids, Query(max_length=MAX_CHOICES)] = [],  # noqa: B006
            model: Annotated[list[Text], Query(max_length=MAX_CHOICES)] = [],  # noqa: B006
            number: Annotated[str, Query(max_length=64)] = "",
            resource: Annotated[list[Resource], Query(max_length=16)] = [],  # noqa: B006
            role: Annotated[list[MeterRole], Query(max_length=2)] = [],  # noqa: B006
            kind: Annotated[list[Literal["meter", "sensor"]], Query(max_length=2)] = []  # noqa: B006
    ) -> VerificationList:
        return await _service(verification.due(token, first, last,
                                               _filters(building, model, number, resource, role, list(kind))))

    @api.get("/verification/calendar", response_model=VerificationCalendar, tags=verification_tags,
             description="Items due per month of `year` and, with `month`, per day of it, by model too; overdue ones "
                         "are counted on their own date and counted in `overdue`.")
    async def verification_calendar(
            token: Token, year: Annotated[int, Query(ge=2000, le=2100)],
            month: Annotated[int | None, Query(ge=1, le=12)] = None,
            building: Annotated[Ids, Query(max_length=MAX_CHOICES)] = [],  # noqa: B006
            model: Annotated[list[Text], Query(max_length=MAX_CHOICES)] = [],  # noqa: B006
            number: Annotated[str, Query(max_length=64)] = "",
            resource: Annotated[list[Resource], Query(max_length=16)] = [],  # noqa: B006
            role: Annotated[list[MeterRole], Query(max_length=2)] = [],  # noqa: B006
            kind: Annotated[list[Literal["meter", "sensor"]], Query(max_length=2)] = []  # noqa: B006
    ) -> VerificationCalendar:
        return await _service(verification.calendar(token, year, month,
                                                    _filters(building, model, number, resource, role, list(kind))))
