"""Pages of section «Сервис»: the add-meter wizard (manual 4.5.2 "Добавление ПУ"), the meter view
(«Просмотр ПУ»), the meter's documents, and the communicators page («Связь», 4.5.6).

The wizard is a stepper, one step per screen (usable at 390 px): type → location → barcode (typed,
or scanned with the phone's camera through the browser's BarcodeDetector, no external scripts) →
communication line → configuration → review and confirmation. Each «Далее» asks the service to check
the draft through that step and shows its refusal next to the form. Only a service engineer without
reader status adds a meter; others get the forbidden page. This module also registers the meter view
and its documents (ui/wizard_view_page.py) and the communicators page (ui/wizard_lines_page.py); the
texts and helpers the three share are ui/wizard_common.py's.
Routes: /service/meters/new, /service/meters/{id}, /service/meters/{id}/documents,
/service/communicators. Tests: tests/ui/test_wizard_ui.py.
"""

from __future__ import annotations

from typing import Any, cast

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from cloud.services.communicators import (
    CommunicatorInfo,
    CommunicatorSpec,
)
from cloud.services.meter_wizard import (
    NO_SEASON_CODE,
    DevicePassport,
    ModelChoice,
    Review,
    WizardResult,
)
from cloud.services.models import BuildingSummary, PremiseInfo
from cloud.services.wizard_rules import KIT_KINDS, STEPS, Draft, KitPart, LineChoice

from . import auth, fmt, pages, theme
from .i18n import t
from .ports import Services
from .wizard_common import (
    ACTIVE,
    COMMUNICATORS_PATH,
    NEW_PATH,
    WizardServices,
    attempt_here,
    error_label,
    fact_row,
    line_fields,
    line_text,
    may_add,
    resource_text,
    season_warning,
    to_day,
    to_int,
)


def register(plain: Services) -> None:
    """Register the wizard, the meter view and documents, and the communicators page."""
    from . import wizard_lines_page, wizard_view_page

    services = cast(WizardServices, plain)

    @ui.page(NEW_PATH, response_timeout=30.0)
    async def wizard_page(request: Request) -> RedirectResponse | None:
        viewer = await pages.operational_viewer(services, request, active=ACTIVE)
        if viewer is None or isinstance(viewer, RedirectResponse):
            return viewer
        if not may_add(viewer):
            pages.problem_page(viewer.user, t("error.forbidden"), t("wizard.only_engineer"), icon="lock",
                               active=ACTIVE)
            return None
        page = WizardPage(services, viewer)
        if await pages.explained(viewer.user, page.load(), not_found=t("error.not_found"), active=ACTIVE):
            page.render()
        return None

    @ui.page("/service/meters/{meter_id:int}", response_timeout=30.0)
    async def meter_view_page(request: Request, meter_id: int) -> RedirectResponse | None:
        viewer = await pages.operational_viewer(services, request, active=ACTIVE)
        if viewer is None or isinstance(viewer, RedirectResponse):
            return viewer
        page = wizard_view_page.MeterViewPage(services, viewer, meter_id)
        if await pages.explained(viewer.user, page.load(), not_found=t("error.meter_not_found"), active=ACTIVE):
            page.render()
        return None

    @ui.page("/service/meters/{meter_id:int}/documents", response_timeout=30.0)
    async def documents_page(request: Request, meter_id: int) -> RedirectResponse | None:
        viewer = await pages.operational_viewer(services, request, active=ACTIVE)
        if viewer is None or isinstance(viewer, RedirectResponse):
            return viewer
        page = wizard_view_page.DocumentsPage(services, viewer, meter_id)
        if await pages.explained(viewer.user, page.load(), not_found=t("error.meter_not_found"), active=ACTIVE):
            page.render()
        return None

    @ui.page(COMMUNICATORS_PATH, response_timeout=30.0)
    async def communicators_page(request: Request) -> RedirectResponse | None:
        viewer = await pages.operational_viewer(services, request, active=COMMUNICATORS_PATH)
        if viewer is None or isinstance(viewer, RedirectResponse):
            return viewer
        page = wizard_lines_page.CommunicatorsPage(services, viewer, f"{request.url.hostname or 'localhost'}")
        if await pages.explained(viewer.user, page.load(), not_found=t("error.not_found"),
                                 active=COMMUNICATORS_PATH):
            page.render()
        return None


# --- the wizard ------------------------------------------------------------------------------------------

class WizardPage:
    def __init__(self, services: WizardServices, viewer: auth.Viewer) -> None:
        self.services = services
        self.viewer = viewer
        self.step = 0
        self.models: list[ModelChoice] = []
        self.buildings: list[BuildingSummary] = []
        self.premises: list[PremiseInfo] = []
        self.lines: list[CommunicatorInfo] = []
        self.passport: DevicePassport | None = None
        self.review: Review | None = None
        self.result: WizardResult | None = None
        # the draft as the forms hold it
        self.role = "individual"
        self.model = ""
        self.building_id: int | None = None
        self.premise_id: int | None = None
        self.serial = ""
        self.barcode = ""
        self.line_mode = "builtin"
        self.communicator_id: int | None = None
        self.line: dict[str, Any] = {"kind": "lora", "host": "", "port": None, "imei": "", "iccid": "", "phone": "",
                     "dev_eui": "", "lora_class": "A", "lorawan_version": "1.0.2", "unit": 1}
        self.calculator: str | None = None
        self.kit: list[dict[str, Any]] = []
        self.resources: dict[int, str] = {}
        self.inputs = 2
        self.tariffs = 1
        self.phases: int | None = None
        self.phase: str | None = None
        self.ct_ratio = 1.0
        self.admin_password = ""
        self.archive_kinds: list[str] = []
        self.verified_on = ""
        self.next_verification_on = ""
        self.installed_on = ""

    async def load(self) -> None:
        self.models = await self.services.wizard.models(self.viewer.token)
        self.buildings = await self.services.wizard.buildings_list(self.viewer.token)
        if len(self.buildings) == 1:  # the only building is the one: on a phone, one choice fewer
            self.building_id = self.buildings[0].id
            self.premises = await self.services.wizard.premises(self.viewer.token, self.building_id)

    def render(self) -> None:
        with theme.frame(t("wizard.title"), self.viewer.user, active=ACTIVE,
                         crumbs=((t("wizard.crumb.meters"), ACTIVE),)):
            self.body()

    @property
    def choice(self) -> ModelChoice | None:
        return next((m for m in self.models if m.name == self.model), None)

    # --- the draft -----------------------------------------------------------------------------------
    def draft(self) -> Draft:
        spec = None
        if self.line_mode in ("builtin", "new"):
            kind = "lora" if self.line_mode == "builtin" else self.line["kind"]
            spec = CommunicatorSpec(kind, "builtin" if self.line_mode == "builtin" else "external",
                                    host=self.line["host"] or None, port=to_int(self.line["port"]),
                                    imei=self.line["imei"] or None, iccid=self.line["iccid"] or None,
                                    phone=self.line["phone"] or None, dev_eui=self.line["dev_eui"] or None,
                                    lora_class=self.line["lora_class"], lorawan_version=self.line["lorawan_version"])
        line = LineChoice(self.line_mode, self.communicator_id, spec, to_int(self.line["unit"]) or 1)
        choice = self.choice
        options = set(choice.options) if choice else set()
        is_941 = "tariffs" in options
        return Draft(
            role=self.role, model=self.model, building_id=self.building_id,
            premise_id=self.premise_id if self.role == "individual" else None, serial=self.serial,
            barcode=self.barcode, line=line, calculator=self.calculator if "calculator" in options else None,
            kit=tuple(KitPart(p["kind"], p["serial"], to_int(p["channel"]), p["model"]) for p in self.kit)
            if "kit" in options else (),
            channel_resources=dict(self.resources) if "channel_resources" in options else {},
            inputs=self.inputs if "inputs" in options else None,
            tariffs=self.tariffs if is_941 else None, phases=self.phases if is_941 else None,
            phase=self.phase if is_941 and self.phases == 1 else None,
            ct_ratio=float(self.ct_ratio or 1) if is_941 else 1.0,
            admin_password=(self.admin_password or None) if is_941 else None,
            archive_kinds=tuple(self.archive_kinds), verified_on=to_day(self.verified_on),
            next_verification_on=to_day(self.next_verification_on), installed_on=to_day(self.installed_on))

    # --- drawing ---------------------------------------------------------------------------------------
    @ui.refreshable_method
    def body(self) -> None:
        if self.result is not None:
            self._done_card(self.result)
            return
        name = STEPS[self.step]
        with theme.card().classes("max-w-2xl").mark("wizard"):
            self._stepper()
            ui.label(t(f"wizard.step.{name}")).classes("text-lg font-semibold").mark(f"wizard-step-{name}")
            getattr(self, f"_step_{name}")()
            self.error = error_label("wizard-error")
            with ui.row().classes("w-full justify-between gap-2"):
                if self.step > 0:
                    ui.button(t("wizard.back"), icon="arrow_back", on_click=self._back) \
                        .props("flat no-caps").mark("wizard-back")
                else:
                    ui.element("span")
                if name != "review":
                    ui.button(t("wizard.next"), icon="arrow_forward", on_click=self._next) \
                        .props("unelevated no-caps").mark("wizard-next")
                else:
                    ui.button(t("wizard.review.confirm"), icon="check", on_click=self._ask_confirm) \
                        .props("unelevated no-caps color=positive").mark("wizard-confirm")

    def _stepper(self) -> None:
        with ui.row().classes("w-full items-center gap-1 no-wrap"):
            for index, name in enumerate(STEPS):
                done = index < self.step
                colour = "bg-[#1d4f7c]" if index <= self.step else "bg-[#d9e2ec]"
                ui.element("div").classes(f"h-1.5 flex-1 rounded {colour}").tooltip(t(f"wizard.step.{name}")) \
                    .mark(f"wizard-dot-{name}" + ("-done" if done else ""))
        ui.label(t("wizard.step_of", n=self.step + 1, total=len(STEPS))).classes("text-xs du-muted")

    def _step_type(self) -> None:
        ui.label(t("wizard.role")).classes("du-kpi-label")
        with ui.row().classes("w-full gap-2"):
            for role in ("individual", "common"):
                chosen = self.role == role
                ui.button(t(f"wizard.role.{role}"), on_click=lambda r=role: self._set("role", r)) \
                    .props(f"no-caps {'unelevated' if chosen else 'outline'}").classes("flex-1 min-w-[9rem]") \
                    .mark(f"wizard-role-{role}" + ("-on" if chosen else ""))
        ui.label(t("wizard.model")).classes("du-kpi-label pt-2")
        with ui.column().classes("w-full gap-2"):
            for m in self.models:
                chosen = m.name == self.model
                allowed = self.role in m.roles
                with ui.card().classes(
                        "du-card du-plashka w-full p-3 gap-1" + (" border-[#1d4f7c] border-2" if chosen else "")
                        + ("" if allowed else " opacity-50")).props("flat") \
                        .on("click", lambda n=m.name: self._set("model", n)) \
                        .mark(f"wizard-model-{m.name}" + ("-on" if chosen else "")):
                    ui.label(m.title).classes("font-semibold text-sm break-words")
                    kinds = dict.fromkeys(resource_text(c.resource.value) for c in m.channels)
                    ui.label(f"{m.name} · {', '.join(kinds)}") \
                        .classes("text-xs du-muted break-words")
                    if len(m.roles) == 1:
                        ui.label(t("wizard.model.roles", roles=t(f"wizard.role.{m.roles[0]}"))) \
                            .classes("text-xs du-muted")

    def _step_location(self) -> None:
        if not self.buildings:
            theme.message(t("wizard.no_buildings"))
            return
        ui.select({b.id: b.address for b in self.buildings}, label=t("wizard.building"), value=self.building_id,
                  on_change=lambda e: self._building(e.value)).props("outlined dense").classes("w-full") \
            .mark("wizard-building")
        if self.role == "individual" and self.building_id is not None:
            if not self.premises:
                theme.message(t("wizard.no_premises"))
            else:
                ui.select({p.id: p.number for p in self.premises}, label=t("wizard.premise"), value=self.premise_id,
                          on_change=lambda e: setattr(self, "premise_id", e.value)) \
                    .props("outlined dense").classes("w-full").mark("wizard-premise")

    def _step_barcode(self) -> None:
        ui.input(t("wizard.barcode"), value=self.barcode, on_change=lambda e: setattr(self, "barcode", e.value or "")) \
            .props("outlined dense clearable").classes("w-full").mark("wizard-barcode")
        ui.input(t("wizard.serial"), value=self.serial, on_change=lambda e: setattr(self, "serial", e.value or "")) \
            .props(f"outlined dense hint='{t('wizard.serial.hint')}'").classes("w-full").mark("wizard-serial")
        ui.button(t("wizard.scan"), icon="photo_camera", on_click=self._scan).props("outline no-caps") \
            .mark("wizard-scan")
        self.scan_note = ui.label("").classes("text-sm du-muted").mark("wizard-scan-note")
        self.scan_note.set_visibility(False)
        self.video = ui.element("video").props("playsinline muted").classes("w-full max-h-64 rounded bg-black")
        self.video.set_visibility(False)

    async def _scan(self) -> None:
        """Scan with the camera in the browser: getUserMedia and the BarcodeDetector API (no external
        scripts); where the browser lacks either, say so: typing stays."""
        supported = await ui.run_javascript(
            "return ('BarcodeDetector' in window) && !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia)",
            timeout=5.0)
        if not supported:
            self.scan_note.text = t("wizard.scan.unsupported")
            self.scan_note.set_visibility(True)
            return
        self.scan_note.text = t("wizard.scan.hint")
        self.scan_note.set_visibility(True)
        self.video.set_visibility(True)
        code = await ui.run_javascript(f"""
            const video = getHtmlElement({self.video.id});
            const stream = await navigator.mediaDevices.getUserMedia({{video: {{facingMode: 'environment'}}}});
            video.srcObject = stream; await video.play();
            const detector = new BarcodeDetector();
            try {{
              for (let i = 0; i < 300; i++) {{
                const found = await detector.detect(video);
                if (found.length) return found[0].rawValue;
                await new Promise(r => setTimeout(r, 200));
              }}
              return '';
            }} finally {{ stream.getTracks().forEach(track => track.stop()); }}
        """, timeout=70.0)
        self.video.set_visibility(False)
        if code:
            self.barcode = str(code).strip()
            ui.notify(t("wizard.scan.read", code=self.barcode), type="positive")
            self.body.refresh()

    def _step_line(self) -> None:
        choice = self.choice
        modes = (["builtin"] if choice and choice.builtin_line else []) + ["existing", "new"]
        if self.line_mode not in modes:
            self.line_mode = modes[0]
        with ui.column().classes("w-full gap-1"):
            for mode in modes:
                chosen = self.line_mode == mode
                ui.button(t(f"wizard.line.{mode}"), on_click=lambda m=mode: self._set("line_mode", m)) \
                    .props(f"no-caps align=left {'unelevated' if chosen else 'outline'}").classes("w-full") \
                    .mark(f"wizard-line-{mode}" + ("-on" if chosen else ""))
        kinds = list(choice.line_kinds) if choice else ["lora"]
        if self.line_mode == "existing":
            if not self.lines:
                theme.message(t("wizard.line.none"))
            else:
                ui.select({c.id: line_text(c) for c in self.lines}, label=t("wizard.line.communicator"),
                          value=self.communicator_id, on_change=lambda e: setattr(self, "communicator_id", e.value)) \
                    .props("outlined dense").classes("w-full").mark("wizard-communicator")
            if "tcp" in kinds:
                self._field("unit", t("wizard.line.unit"), number=True)
            return
        if self.line_mode == "new":
            if self.line["kind"] not in kinds:
                self.line["kind"] = kinds[0]
            ui.select({k: t(f"lines.kind.{k}") for k in kinds}, label=t("wizard.line.kind"), value=self.line["kind"],
                      on_change=lambda e: self._line_kind(e.value)).props("outlined dense").classes("w-full") \
                .mark("wizard-line-kind")
        kind = "lora" if self.line_mode == "builtin" else self.line["kind"]
        line_fields(self.line, kind, self._field)
        if kind == "tcp":
            self._field("unit", t("wizard.line.unit"), number=True)
        if self.line_mode == "builtin":
            ui.button(t("wizard.passport.read"), icon="badge", on_click=self._read_passport) \
                .props("outline no-caps").mark("wizard-passport")
            if self.passport is not None:
                p = self.passport
                ui.label(t("wizard.passport.found", model=p.model or p.model_code, serial=p.serial,
                           firmware=p.firmware, verified=fmt.day(p.verified_on),
                           inputs=", ".join(resource_text(r) for r in p.inputs))) \
                    .classes("text-sm break-words").mark("wizard-passport-found")
                if p.model and p.model != self.model:
                    ui.label(t("wizard.passport.other_model", model=p.model, chosen=self.model)) \
                        .classes("text-sm text-[#c2413b]")

    def _field(self, key: str, label: str, *, number: bool = False, password: bool = False) -> None:
        value = self.line.get(key)
        ui.input(label, value="" if value is None else str(value),
                 on_change=lambda e: self.line.__setitem__(key, e.value or ""), password=password) \
            .props("outlined dense" + (" type=number" if number else "")).classes("w-full").mark(f"wizard-{key}")

    def _line_kind(self, kind: str) -> None:
        self.line["kind"] = kind
        self.body.refresh()

    async def _read_passport(self) -> None:
        if self.building_id is None:
            return
        async with theme.working():
            found = await attempt_here(self.services.wizard.passport(self.viewer.token, self.building_id,
                                                                     str(self.line["dev_eui"])), self.error)
        if found is None:
            if not self.error.visible:
                ui.notify(t("wizard.passport.none"), type="info")
            return
        self.passport = found
        if not self.verified_on:
            self.verified_on = found.verified_on.isoformat()
        self.body.refresh()

    def _step_config(self) -> None:
        choice = self.choice
        if choice is None:
            return
        options = set(choice.options)
        if "calculator" in options:
            ui.select({"KARAT-307": "КАРАТ-307", "KARAT-306": "КАРАТ-306"}, label=t("wizard.calculator"),
                      value=self.calculator, on_change=lambda e: self._set("calculator", e.value)) \
                .props("outlined dense").classes("w-full").mark("wizard-calculator")
        if "inputs" in options:
            ui.select({2: "2", 4: "4"}, label=t("wizard.inputs"), value=self.inputs,
                      on_change=lambda e: self._set("inputs", e.value)).props("outlined dense").classes("w-full") \
                .mark("wizard-inputs")
        if "channel_resources" in options:
            self._resources(choice)
        if "tariffs" in options:
            self._electricity()
        if "kit" in options:
            self._kit(choice)
        ui.select({k: t(f"archive.{k}") for k in choice.archive_kinds}, multiple=True, label=t("wizard.archives"),
                  value=list(self.archive_kinds), on_change=lambda e: setattr(self, "archive_kinds", list(e.value)))\
            .props("outlined dense use-chips").classes("w-full").mark("wizard-archives")
        with ui.row().classes("w-full gap-2"):
            for key in ("verified_on", "next_verification_on", "installed_on"):
                ui.input(t(f"wizard.{key}"), value=getattr(self, key),
                         on_change=lambda e, k=key: setattr(self, k, e.value or "")) \
                    .props("outlined dense type=date stack-label").classes("flex-1 min-w-[10rem]") \
                    .mark(f"wizard-{key}")

    def _resources(self, choice: ModelChoice) -> None:
        if choice.name == "KARAT-926LW":
            ui.select({r: resource_text(r) for r in ("hot_water", "cold_water")}, label=t("wizard.resource"),
                      value=self.resources.get(1), on_change=lambda e: self.resources.__setitem__(1, e.value)) \
                .props("outlined dense").classes("w-full").mark("wizard-resource-1")
            return
        if choice.name == "KARAT-927LW":
            numbers = list(range(1, self.inputs + 1))
            options: tuple[str, ...] = ("hot_water", "cold_water", "gas", "electricity", "heat")
            defaults = {1: "hot_water", 2: "cold_water", 3: "hot_water", 4: "cold_water"}
        else:  # Compact-2: inputs 1 and 2 are channels 2 and 3
            numbers, options = [2, 3], ("hot_water", "cold_water")
            defaults = {2: "hot_water", 3: "cold_water"}
        with ui.row().classes("w-full gap-2"):
            for number in numbers:
                label = t("wizard.input", n=number - 1 if choice.name != "KARAT-927LW" else number)
                ui.select({r: resource_text(r) for r in options}, label=label,
                          value=self.resources.get(number, defaults[number]),
                          on_change=lambda e, n=number: self.resources.__setitem__(n, e.value)) \
                    .props("outlined dense").classes("flex-1 min-w-[9rem]").mark(f"wizard-resource-{number}")

    def _electricity(self) -> None:
        with ui.row().classes("w-full gap-2"):
            ui.select({n: str(n) for n in range(1, 5)}, label=t("wizard.tariffs"), value=self.tariffs,
                      on_change=lambda e: setattr(self, "tariffs", e.value)).props("outlined dense") \
                .classes("flex-1 min-w-[8rem]").mark("wizard-tariffs")
            ui.select({1: t("wizard.phases.1"), 3: t("wizard.phases.3")}, label=t("wizard.phases"), value=self.phases,
                      on_change=lambda e: self._set("phases", e.value)).props("outlined dense") \
                .classes("flex-1 min-w-[8rem]").mark("wizard-phases")
            if self.phases == 1:
                ui.select(["A", "B", "C"], label=t("wizard.phase"), value=self.phase,
                          on_change=lambda e: setattr(self, "phase", e.value)).props("outlined dense") \
                    .classes("flex-1 min-w-[6rem]").mark("wizard-phase")
        if self.role == "common":
            ui.number(t("wizard.ct_ratio"), value=self.ct_ratio, min=0.001, max=100000,
                      on_change=lambda e: setattr(self, "ct_ratio", e.value or 1.0)) \
                .props(f"outlined dense hint='{t('wizard.ct_ratio.hint')}'").classes("w-full").mark("wizard-ct")
        ui.input(t("wizard.password"), value=self.admin_password, password=True, password_toggle_button=True,
                 on_change=lambda e: setattr(self, "admin_password", e.value or "")) \
            .props(f"outlined dense autocomplete=off hint='{t('wizard.password.hint')}'").classes("w-full") \
            .mark("wizard-password")

    def _kit(self, choice: ModelChoice) -> None:
        ui.label(t("wizard.kit")).classes("du-kpi-label pt-2")
        if choice.name in ("KARAT-307", "KARAT-306", "KARAT-929LW"):
            ui.label(t("wizard.kit.hint_calc")).classes("text-xs du-muted")
        if not self.kit:
            theme.message(t("wizard.kit.empty"))
        kinds = [k for k in KIT_KINDS if k != "radio_module" or choice.name == "KARAT-929LW"]
        for index, part in enumerate(self.kit):
            with ui.row().classes("w-full gap-2 items-center").mark(f"wizard-kit-{index}"):
                ui.select({k: t(f"wizard.kit.{k}") for k in kinds}, label=t("wizard.kit.kind"), value=part["kind"],
                          on_change=lambda e, p=part: p.__setitem__("kind", e.value)) \
                    .props("outlined dense").classes("flex-1 min-w-[10rem]")
                ui.input(t("wizard.serial"), value=part["serial"],
                         on_change=lambda e, p=part: p.__setitem__("serial", e.value or "")) \
                    .props("outlined dense").classes("w-32")
                ui.input(t("wizard.kit.channel"), value=str(part["channel"] or ""),
                         on_change=lambda e, p=part: p.__setitem__("channel", e.value or "")) \
                    .props("outlined dense type=number").classes("w-20")
                ui.button(icon="delete", on_click=lambda i=index: self._drop_part(i)) \
                    .props(f'flat round dense aria-label="{t("common.remove")}"')
        ui.button(t("wizard.kit.add"), icon="add", on_click=self._add_part).props("flat no-caps").mark("wizard-kit-add")

    def _add_part(self) -> None:
        self.kit.append({"kind": "flow_transducer", "serial": "", "channel": 1, "model": ""})
        self.body.refresh()

    def _drop_part(self, index: int) -> None:
        del self.kit[index]
        self.body.refresh()

    def _step_review(self) -> None:
        review = self.review
        if review is None:
            return
        with ui.column().classes("w-full gap-1").mark("wizard-review"):
            for label, value in ((t("view.model"), f"{review.model_title} ({review.model})"),
                                 (t("view.type"), t(f"wizard.role.{review.role}")),
                                 (t("view.location"), review.address + (f", {t('wizard.premise').lower()} "
                                                                        f"{review.premise_number}"
                                                                        if review.premise_number else "")),
                                 (t("wizard.serial"), review.serial), (t("wizard.barcode"), review.barcode or "—"),
                                 (t("view.line"), review.communicator),
                                 (t("wizard.archives"), fmt.archives(review.archives))):
                fact_row(label, value)
            if review.calculator:
                fact_row(t("wizard.calculator"), review.calculator)
            if review.phases:
                fact_row(t("wizard.phases"), t(f"wizard.phases.{review.phases}") + (f", {review.phase}" if review.phase
                                                                                  else ""))
            if review.verified_on:
                fact_row(t("wizard.verified_on"), fmt.day(review.verified_on))
            ui.label(t("wizard.review.channels")).classes("du-kpi-label pt-2")
            for c in review.channels:
                ui.label(f"{c.number}: {resource_text(c.resource.value)} ({', '.join(c.parameters)})"
                         + (f" · {c.tariff}" if c.tariff else "")).classes("text-sm")
            if review.kit:
                ui.label(t("wizard.kit")).classes("du-kpi-label pt-2")
                for part in review.kit:
                    ui.label(f"{t(f'wizard.kit.{part.kind}')} {part.serial}"
                             + (f" · {t('wizard.kit.channel').lower()} {part.channel}" if part.channel else "")) \
                        .classes("text-sm")
            if NO_SEASON_CODE in review.warnings:
                season_warning(ahead=True)

    # --- actions ------------------------------------------------------------------------------------------
    def _set(self, name: str, value: Any) -> None:
        setattr(self, name, value)
        if name == "model":
            self.resources, self.kit, self.passport = {}, [], None
        self.body.refresh()

    async def _building(self, building_id: int | None) -> None:
        self.building_id, self.premise_id, self.premises = building_id, None, []
        if building_id is not None and self.role == "individual":
            async with theme.working():
                found = await auth.attempt(self.services.wizard.premises(self.viewer.token, building_id))
            self.premises = found or []
        self.body.refresh()

    def _back(self) -> None:
        self.step = max(0, self.step - 1)
        self.body.refresh()

    async def _next(self) -> None:
        name = STEPS[self.step]
        async with theme.working():
            checked = await attempt_here(self.services.wizard.check(self.viewer.token, self.draft(), name), self.error)
        if checked is None:
            return
        if name == "barcode":
            self.serial = checked.serial
        if name == "type":
            self.lines = await self.services.wizard.line_choices(self.viewer.token, self.model)
            if self.role == "common":
                self.premise_id = None
        if STEPS[self.step + 1] == "review":
            async with theme.working():
                final = await attempt_here(self.services.wizard.check(self.viewer.token, self.draft(), "review"),
                                           self.error)
            if final is None:
                return
            self.review = final.review
        self.step += 1
        self.body.refresh()

    def _ask_confirm(self) -> None:
        review = self.review
        if review is None:
            return
        with ui.dialog() as dialog, theme.card().classes("max-w-md").mark("wizard-confirm-dialog"):
            ui.label(t("wizard.review.question", model=review.model_title, serial=review.serial,
                       address=review.address)).classes("break-words")
            error = error_label("wizard-confirm-error")

            async def confirm() -> None:
                async with theme.working():
                    result = await attempt_here(self.services.wizard.confirm(self.viewer.token, self.draft()), error)
                if result is None:
                    return
                dialog.close()
                self.result = result
                self.body.refresh()

            with ui.row().classes("w-full justify-end gap-2"):
                ui.button(t("wizard.cancel"), on_click=dialog.close).props("flat no-caps")
                ui.button(t("wizard.review.yes"), on_click=confirm).props("unelevated no-caps color=positive") \
                    .mark("wizard-confirm-yes")
        dialog.open()

    def _done_card(self, result: WizardResult) -> None:
        with theme.card().classes("max-w-2xl").mark("wizard-done"):
            ui.label(t("wizard.done", serial=result.meter.serial)).classes("text-lg font-semibold")
            if NO_SEASON_CODE in result.warnings:
                season_warning()
            if result.config_command:
                ui.label(t("wizard.done.pushed", command=result.config_command[:8])).classes("text-sm du-muted")
            elif result.config_problem:
                ui.label(t("wizard.done.not_pushed", reason=result.config_problem)) \
                    .classes("text-sm text-[#c2413b] break-words").mark("wizard-not-pushed")
            with ui.row().classes("gap-2"):
                ui.link(t("wizard.done.open"), f"/service/meters/{result.meter.id}").classes("du-link") \
                    .mark("wizard-open")
                ui.link(t("wizard.done.another"), NEW_PATH).classes("du-link")
