"""/api/v1 routes of the add-meter wizard and the meter view (manual 4.5.2), meter documents and the
communicators (4.5.6): every check and figure the pages show is an answer here
(cloud/services/meter_wizard.py, documents.py, communicators.py).

Routes use cloud.api's Token, _service and parameter types (imported inside ``routes``: cloud.api
imports this module). Tests: tests/integration/test_wizard.py.
"""

# no ``from __future__ import annotations``: FastAPI reads the routes' annotations, whose types
# (Token, PathId, Day) are imported inside ``routes`` and so are not module globals it could resolve
from collections.abc import Awaitable
from datetime import date, datetime
from enum import Enum
from typing import Annotated, Literal, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response
from pydantic import AfterValidator, BaseModel, Field

from cloud.services.communicators import LORAWAN_VERSIONS, CommunicatorInfo, CommunicatorSpec
from cloud.services.container import Services
from cloud.services.documents import KINDS, MAX_BYTES, DocumentCorrupted, DocumentInfo
from cloud.services.meter_wizard import DevicePassport, MeterView, ModelChoice, StepCheck, WizardResult
from cloud.services.models import FIRST_DAY, LAST_DAY, MAX_ID, InvalidInput
from cloud.services.wizard_rules import KIT_KINDS, STEPS, Draft, KitPart, LineChoice
from protocol.vocabulary import Resource

T = TypeVar("T")
D = TypeVar("D", date, datetime)


def _sane(value: D) -> D:
    """cloud.api's date bounds (its ``Day``; not importable here at module level: cloud.api imports us)."""
    day = value.date() if isinstance(value, datetime) else value
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"a date from {FIRST_DAY} to {LAST_DAY}")
    return value


SaneDay = Annotated[date, AfterValidator(_sane)]
SaneMoment = Annotated[datetime, AfterValidator(_sane)]

Ident = Annotated[int, Field(ge=1, le=MAX_ID)]
Short = Annotated[str, Field(max_length=64)]


class CommunicatorIn(BaseModel):
    """A communicator as the «Связь» page enters it (manual 4.5.6): only the fields of its kind are kept."""

    kind: Literal["tcp", "gprs", "lora"]
    placement: Literal["builtin", "external"] = "external"
    name: str = Field(default="", max_length=100, description="«название коммуникатора»")
    building_id: Ident | None = Field(default=None, description="the building it stands in")
    serial: str = Field(default="", max_length=64)
    host: str | None = Field(default=None, max_length=253, description="tcp: IP address or host name")
    port: int | None = Field(default=None, ge=1, le=65535, description="tcp: TCP port")
    imei: str | None = Field(default=None, max_length=32, description="gprs: the modem's IMEI (15 digits)")
    iccid: str | None = Field(default=None, max_length=32, description="gprs: the SIM card's ICCID")
    phone: str | None = Field(default=None, max_length=32, description="gprs: the SIM card's number")
    dev_eui: str | None = Field(default=None, max_length=32, description="lora: DevEUI, 16 hexadecimal digits")
    lora_class: Literal["A", "B", "C"] | None = None
    lorawan_version: str | None = Field(default=None, max_length=8, description=f"one of {', '.join(LORAWAN_VERSIONS)}")

    def spec(self) -> CommunicatorSpec:
        return CommunicatorSpec(**self.model_dump())


class KitPartIn(BaseModel):
    kind: Literal[KIT_KINDS]  # type: ignore[valid-type]
    serial: Short
    channel: int | None = Field(default=None, ge=1, le=64, description="the lead device's channel it serves")
    model: str = Field(default="", max_length=64)


class LineIn(BaseModel):
    mode: Literal["builtin", "existing", "new"] = Field(
        description="builtin: the device's own module (LoRaWAN; its DevEUI etc. in `communicator`); existing: "
                    "`communicator_id` from the list; new: a new external line in `communicator`")
    communicator_id: Ident | None = None
    communicator: CommunicatorIn | None = None
    unit: int = Field(default=1, ge=1, le=247, description="the Modbus unit address behind a TCP line")


class DraftIn(BaseModel):
    """The wizard's answers (manual 4.5.2); later steps' fields may be left out while checking earlier ones."""

    role: Literal["individual", "common"] = Field(description="ИПУ (individual) or ОДПУ (common)")
    model: Short
    building_id: Ident | None = None
    premise_id: Ident | None = None
    serial: Short = ""
    barcode: Short = ""
    line: LineIn | None = None
    calculator: Literal["KARAT-307", "KARAT-306"] | None = Field(default=None, description="KARAT-929LW only")
    kit: list[KitPartIn] = Field(default_factory=list, max_length=12)
    channel_resources: dict[Annotated[int, Field(ge=1, le=64)], Resource] = Field(
        default_factory=dict, max_length=8, description="channel -> resource where the model lets it be chosen")
    inputs: int | None = Field(default=None, ge=0, le=16, description="KARAT-927LW: 2 or 4")
    tariffs: int | None = Field(default=None, ge=0, le=16, description="KARAT-941LW: 1 to 4")
    phases: Literal[1, 3] | None = Field(default=None, description="KARAT-941LW: single- or three-phase")
    phase: Literal["A", "B", "C"] | None = None
    ct_ratio: float = Field(default=1.0, gt=0, le=100_000, allow_inf_nan=False)
    admin_password: str | None = Field(default=None, max_length=32)
    archive_kinds: list[Literal["hour", "day", "month"]] = Field(default_factory=list, max_length=3)
    reporting_day: int = Field(default=1, ge=1, le=28)
    verified_on: SaneDay | None = None
    next_verification_on: SaneDay | None = None
    installed_on: SaneDay | None = None
    commissioned_at: SaneMoment | None = Field(default=None, description="the first hourly period it reports, "
                                                                         "with a UTC offset")

    def draft(self) -> Draft:
        line = None
        if self.line is not None:
            line = LineChoice(self.line.mode, self.line.communicator_id,
                              None if self.line.communicator is None else self.line.communicator.spec(), self.line.unit)
        return Draft(role=self.role, model=self.model, building_id=self.building_id, premise_id=self.premise_id,
                     serial=self.serial, barcode=self.barcode, line=line, calculator=self.calculator,
                     kit=tuple(KitPart(p.kind, p.serial, p.channel, p.model) for p in self.kit),
                     channel_resources={k: v.value for k, v in self.channel_resources.items()}, inputs=self.inputs,
                     tariffs=self.tariffs, phases=self.phases, phase=self.phase, ct_ratio=self.ct_ratio,
                     admin_password=self.admin_password, archive_kinds=tuple(self.archive_kinds),
                     reporting_day=self.reporting_day, verified_on=self.verified_on,
                     next_verification_on=self.next_verification_on, installed_on=self.installed_on,
                     commissioned_at=self.commissioned_at)


class PasswordIn(BaseModel):
    password: str | None = Field(default=None, max_length=32, description="null: the model's factory password")


async def _conflict(call: Awaitable[T]) -> T:
    """A document whose file no longer matches its checksum is a 409, not the caller's mistake."""
    from cloud.api import ApiError
    try:
        return await call
    except DocumentCorrupted as exc:
        raise ApiError(409, exc.code, str(exc)) from exc


def routes(api: APIRouter, services: Services) -> None:
    """Add the routes to ``api`` (the /api/v1 router; operationIds are the function names)."""
    from cloud.api import ApiError, PathId, Token, _service

    wizard, documents, communicators = services.wizard, services.documents, services.communicators
    tags: list[str | Enum] = ["meter wizard"]
    doc_tags: list[str | Enum] = ["meter documents"]
    line_tags: list[str | Enum] = ["communicators"]

    @api.get("/wizard/models", response_model=list[ModelChoice], tags=tags,
             description="The models a meter may be added as (manual 4.5.2), each with its meter types, the "
                         "communicator kinds it talks over, whether it has a built-in module, its default channels "
                         "and archive kinds, and the options its configuration step asks. A service engineer.")
    async def meter_wizard_models(token: Token) -> list[ModelChoice]:
        return await _service(wizard.models(token))

    @api.get("/wizard/communicators", response_model=list[CommunicatorInfo], tags=tags,
             description="The communicators a meter of `model` could use: of a kind it talks over, built-in ones "
                         "only while they serve no meter.")
    async def meter_wizard_line_choices(token: Token, model: Annotated[str, Query(max_length=64)]
                                        ) -> list[CommunicatorInfo]:
        return await _service(wizard.line_choices(token, model))

    @api.post("/wizard/check", response_model=StepCheck, tags=tags,
              description=f"Check the draft through `step` ({', '.join(STEPS)}): 422 names the first field that is "
                          "wrong and why; from `config` on, `review` shows the meter that would be created (its "
                          "channels, archives, link, kit) and `warnings` (`heat_meter_without_season`: a heat meter "
                          "in a building whose heating season is not set, manual 4.5.7).")
    async def check_meter_wizard_step(body: DraftIn, token: Token,
                                      step: Literal["type", "location", "barcode", "line", "config", "review"]
                                      ) -> StepCheck:
        return await _service(wizard.check(token, body.draft(), step))

    @api.get("/wizard/passport", response_model=DevicePassport | None, tags=tags,
             description="The newest electronic passport (model, serial, firmware, verification date, inputs) the "
                         "LoRaWAN device `dev_eui` sent through the building's edge in the last 30 days; null when "
                         "none arrived (wake the device, or enter the data by hand).")
    async def read_device_passport(token: Token, building_id: Annotated[int, Query(ge=1, le=MAX_ID)],
                                   dev_eui: Annotated[str, Query(max_length=32)]) -> DevicePassport | None:
        return await _service(wizard.passport(token, building_id, dev_eui))

    @api.post("/wizard/meters", response_model=WizardResult, status_code=201, tags=tags,
              description="Add the meter the draft describes (a service engineer; every step checked again): its "
                          "line (a new communicator for a built-in or new line), the meter with its barcode and "
                          "verification dates, its kit and options; then the site's meter list goes to the edge "
                          "(`config_command`, or `config_problem` saying why not). Audited.")
    async def add_meter_with_wizard(body: DraftIn, token: Token) -> WizardResult:
        return await _service(wizard.confirm(token, body.draft()))

    @api.get("/meters/{meter_id}/view", response_model=MeterView, tags=tags,
             description="«Просмотр ПУ»: the meter, its building, communicator, kit, options, verification dates and "
                         "the number of its documents.")
    async def meter_view(meter_id: PathId, token: Token) -> MeterView:
        return await _service(wizard.view(token, meter_id))

    @api.put("/meters/{meter_id}/admin-password", response_model=MeterView, tags=tags,
             description="Record the meter's admin password the module must use (KARAT-941LW; a service engineer). "
                         "null or the factory password restores the factory one. The password is never returned.")
    async def set_meter_admin_password(meter_id: PathId, body: PasswordIn, token: Token) -> MeterView:
        return await _service(wizard.set_admin_password(token, meter_id, body.password))

    @api.post("/meters/{meter_id}/admin-password/factory", response_model=MeterView, tags=tags,
              description="Restore the model's factory admin password in the module (a service engineer).")
    async def restore_meter_factory_password(meter_id: PathId, token: Token) -> MeterView:
        return await _service(wizard.restore_factory_password(token, meter_id))

    # --- documents --------------------------------------------------------------------------------------
    @api.get("/meters/{meter_id}/documents", response_model=list[DocumentInfo], tags=doc_tags,
             description="The meter's documents, newest first, with size and SHA-256.")
    async def meter_documents(meter_id: PathId, token: Token) -> list[DocumentInfo]:
        return await _service(documents.list(token, meter_id))

    @api.post("/meters/{meter_id}/documents", response_model=DocumentInfo, status_code=201, tags=doc_tags,
              description=f"Attach a file (the request body, any content type) as a document of `kind` ("
                          f"{', '.join(KINDS)}); `name` is the file's name, `sensor` the sensor's serial for a "
                          f"sensor's passport or certificate. Empty files and files over {MAX_BYTES // 2**20} MB are "
                          "refused (422). A dispatcher or engineer; audited.")
    async def upload_meter_document(meter_id: PathId, request: Request, token: Token,
                                    kind: Literal[KINDS],  # type: ignore[valid-type]
                                    name: Annotated[str, Query(min_length=1, max_length=200)],
                                    sensor: Annotated[str, Query(max_length=64)] = "") -> DocumentInfo:
        data = bytearray()
        async for chunk in request.stream():
            data.extend(chunk)
            if len(data) > MAX_BYTES:
                raise ApiError(422, InvalidInput.code, f"file: over {MAX_BYTES // 2**20} MB")
        return await _service(documents.upload(token, meter_id, kind, name, bytes(data), sensor))

    @api.get("/documents/{document_id}", response_class=Response, tags=doc_tags,
             responses={200: {"content": {"application/octet-stream": {}}}},
             description="The document's file, checked against the SHA-256 stored at upload (header "
                         "`X-Checksum-SHA256`); 409 `document_corrupted` when the stored file was changed or lost.")
    async def download_meter_document(document_id: PathId, token: Token) -> Response:
        info, data = await _service(_conflict(documents.download(token, document_id)))
        return Response(data, media_type=info.content_type, headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(info.name)}",
            "X-Checksum-SHA256": info.sha256})

    @api.delete("/documents/{document_id}", status_code=204, response_class=Response, tags=doc_tags,
                description="Delete the document and its file (a dispatcher or engineer; audited).")
    async def delete_meter_document(document_id: PathId, token: Token) -> Response:
        await _service(documents.delete(token, document_id))
        return Response(status_code=204)

    # --- communicators (4.5.6) -----------------------------------------------------------------------------
    @api.get("/communicators", response_model=list[CommunicatorInfo], tags=line_tags,
             description="The company's communicators with the meters each serves.")
    async def communicators_list(token: Token) -> list[CommunicatorInfo]:
        return await _service(communicators.list(token))

    @api.get("/communicators/{communicator_id}", response_model=CommunicatorInfo, tags=line_tags)
    async def communicator(communicator_id: PathId, token: Token) -> CommunicatorInfo:
        return await _service(communicators.get(token, communicator_id))

    @api.post("/communicators", response_model=CommunicatorInfo, status_code=201, tags=line_tags,
              description="Add a communicator: TCP (IP address or host, port), GPRS (IMEI and the SIM card's ICCID "
                          "or number: two identifiers), LoRa (DevEUI, class, LoRaWAN version); built-in or external. "
                          "422 names the field that is wrong. A dispatcher or engineer; audited.")
    async def create_communicator(body: CommunicatorIn, token: Token) -> CommunicatorInfo:
        return await _service(communicators.create(token, body.spec()))

    @api.put("/communicators/{communicator_id}", response_model=CommunicatorInfo, tags=line_tags,
             description="Replace the communicator's fields; a built-in one must still serve at most one meter.")
    async def update_communicator(communicator_id: PathId, body: CommunicatorIn, token: Token) -> CommunicatorInfo:
        return await _service(communicators.update(token, communicator_id, body.spec()))
