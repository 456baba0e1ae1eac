"""What the two consumption pages (building, manual 4.1.2; premise, 4.1.6) share: the
resource, days or months and period they show, how these come from the address bar, and a
change of selectors that reloads the data (the newest reload wins, a progress note shows while it
loads) and updates the address and the remembered period (ui.selection)."""

from __future__ import annotations

from collections.abc import Awaitable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from nicegui import ui

from cloud.services.models import Granularity, MeterInfo
from protocol.vocabulary import Resource

from . import auth, fmt, selection, widgets
from .i18n import extend, t
from .query import PageQuery, page_url

extend({"balance.loading": ("Загрузка данных…", "Loading data…")})


@dataclass(slots=True)
class ConsumptionState:
    resource: Resource | None
    granularity: Granularity
    period: date
    data: Any  # BuildingConsumption or PremiseConsumption; None when there is no resource to show


def initial_choice(meters: Iterable[MeterInfo], query: PageQuery, default: date
                   ) -> tuple[Resource | None, Granularity, date, list[str]]:
    """Resource, granularity and period from the address bar, checked against the meters' resources;
    a bad value is named in the returned problems and replaced by the default."""
    resources = fmt.sort_resources(r for m in meters for r in m.resources)
    problems = list(query.problems)
    resource = resources[0] if resources else None
    if query.resource is not None:
        if query.resource in resources:
            resource = query.resource
        else:
            problems.append(t("error.bad_parameter", name="resource", value=query.resource.value))
    granularity = query.granularity if query.granularity in widgets.CONSUMPTION_GRANULARITIES else Granularity.DAY
    return resource, granularity, widgets.normalise(query.period or default, granularity), problems


class ConsumptionView:
    """Base of the consumption pages; a page sets ``state``, ``newest`` and ``viewer`` and says how to
    fetch its data (``fetch``), where it lives (``path``) and what to redraw (``redraw``)."""

    state: ConsumptionState
    newest: date  # the local date of the newest data: where period pickers open
    viewer: auth.Viewer
    _request = 0  # the newest reload wins when selectors change quickly

    def fetch(self, resource: Resource, granularity: Granularity, period: date) -> Awaitable[Any]:
        raise NotImplementedError

    def path(self) -> str:
        raise NotImplementedError

    def redraw(self) -> None:
        raise NotImplementedError

    async def change(
        self, *, resource: Resource | None = None, granularity: Granularity | None = None, period: date | None = None
    ) -> None:
        state = self.state
        new_resource = resource or state.resource
        new_granularity = granularity or state.granularity
        new_period = widgets.next_period(period, state.period, state.granularity, new_granularity, self.newest)
        if new_resource is None:
            return
        self._request += 1
        request = self._request
        progress = ui.notification(t("balance.loading"), spinner=True, timeout=None, position="top")
        try:
            data = await auth.attempt(self.fetch(new_resource, new_granularity, new_period))
        finally:
            progress.dismiss()
        if data is None or request != self._request:
            return
        self.state = ConsumptionState(new_resource, new_granularity, new_period, data)
        selection.remember(period=new_period, span=selection.view_span(new_granularity))
        self.redraw()
        ui.navigate.history.replace(page_url(self.path(), resource=new_resource.value,
                                             granularity=new_granularity.value, period=new_period))
