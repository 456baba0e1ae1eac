"""Section "Учёт" (manual 4.1): routes of the first page (4.1.1, specific consumption and
imbalance by buildings), building consumption, premise consumption and meter archive pages,
with the sign-in guard, role check and not-found pages.

The page bodies live in ui.specific_page, ui.building_page, ui.premise_page and ui.meter_page; this module
decides who may see what. Imports the services through ui.ports; tests: tests/ui/.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import cast

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import app, ui

from cloud.services.models import Forbidden, InvalidInput, NotFound

from . import access, auth, errors, pages, start_page, theme, widgets
from .building_page import BuildingPage
from .i18n import t
from .meter_page import MeterPage
from .ports import Services
from .premise_page import PremisePage
from .query import PageQuery
from .specific_page import OverviewServices, SpecificPage

PAGE_TIMEOUT = 30.0  # seconds a page may take to query the services before its first response


def register(services: Services) -> None:
    """Register the pages of section "Учёт"."""

    @ui.page("/", response_timeout=PAGE_TIMEOUT)
    async def buildings_page(request: Request, city: str | None = None, resource: str | None = None,
                             granularity: str | None = None, period: str | None = None) -> RedirectResponse | None:
        """Manual 4.1.1: the city's buildings by specific consumption and imbalance (ui.specific_page)."""
        viewer = await auth.require_viewer(services, request)
        if isinstance(viewer, RedirectResponse):
            return viewer
        if not access.may_use_accounting(viewer.user):
            return RedirectResponse(access.home(viewer.user), status_code=303)
        facts = app.storage.client.get(access.NAV_FACTS_KEY)
        if start_page.needed(facts):  # no buildings or no meter in service yet: the first steps (3.3, 3.6)
            start_page.render(viewer.user, facts)
            return None
        try:
            page = await SpecificPage.load(cast(OverviewServices, services), viewer, city, resource, granularity,
                                           period)
        except NotFound:
            with theme.frame(t("error.not_found"), viewer.user):
                widgets.problem(t("error.not_found"), t("overview.no_buildings"), back=False)
            return None
        except InvalidInput as error:
            with theme.frame(t("error.invalid_title"), viewer.user):
                widgets.problem(t("error.invalid_title"), t("error.invalid_input", reason=errors.reason(str(error))),
                                icon="error_outline", back=False)
            return None
        page.render()
        return None

    @ui.page("/buildings/{building_id}", response_timeout=PAGE_TIMEOUT)
    async def building_page(
        request: Request,
        building_id: str,
        resource: str | None = None,
        granularity: str | None = None,
        period: str | None = None,
    ) -> RedirectResponse | None:
        query = PageQuery.parse(resource=resource, granularity=granularity, period=period)
        return await _guarded(
            services,
            request,
            t("error.building_not_found"),
            parse_id(building_id),
            lambda viewer, ident: BuildingPage.load(services, viewer, ident, query),
        )

    @ui.page("/premises/{premise_id}", response_timeout=PAGE_TIMEOUT)
    async def premise_page(
        request: Request,
        premise_id: str,
        resource: str | None = None,
        granularity: str | None = None,
        period: str | None = None,
    ) -> RedirectResponse | None:
        query = PageQuery.parse(resource=resource, granularity=granularity, period=period)
        return await _guarded(
            services,
            request,
            t("error.premise_not_found"),
            parse_id(premise_id),
            lambda viewer, ident: PremisePage.load(services, viewer, ident, query),
        )

    @ui.page("/meters/{meter_id}", response_timeout=PAGE_TIMEOUT)
    async def meter_page(
        request: Request,
        meter_id: str,
        channel: str | None = None,
        granularity: str | None = None,
        period: str | None = None,
    ) -> RedirectResponse | None:
        query = PageQuery.parse(channel=channel, granularity=granularity, period=period)
        return await _guarded(
            services,
            request,
            t("error.meter_not_found"),
            parse_id(meter_id),
            lambda viewer, ident: MeterPage.load(services, viewer, ident, query),
        )


async def _guarded(
    services: Services,
    request: Request,
    not_found_text: str,
    ident: int | None,
    load: Callable[[auth.Viewer, int], Awaitable[BuildingPage | PremisePage | MeterPage]],
) -> RedirectResponse | None:
    """Sign-in guard, role check, then load (which may say NotFound/Forbidden) and draw.

    ``ident`` is the object's id from the path, None when the path had no number in it.
    """
    viewer = await pages.operational_viewer(services, request)
    if viewer is None or isinstance(viewer, RedirectResponse):
        return viewer
    try:
        if ident is None:
            raise NotFound(not_found_text)
        page = await load(viewer, ident)
    except NotFound:
        with theme.frame(t("error.not_found"), viewer.user, crumbs=[(t("nav.buildings"), "/")]):
            widgets.problem(t("error.not_found"), not_found_text)
        return None
    except Forbidden:
        with theme.frame(t("error.forbidden"), viewer.user, crumbs=[(t("nav.buildings"), "/")]):
            widgets.problem(t("error.forbidden"), t("error.forbidden_text"), icon="lock")
        return None
    except InvalidInput as error:
        with theme.frame(t("error.invalid_title"), viewer.user, crumbs=[(t("nav.buildings"), "/")]):
            widgets.problem(t("error.invalid_title"), t("error.invalid_input", reason=errors.reason(str(error))),
                            icon="error_outline")
        return None
    page.render()
    return None


def parse_id(text: str) -> int | None:
    """The numeric id in a path segment, or None (shown as "not found", not as a 422)."""
    return int(text) if text.isascii() and text.isdigit() and len(text) < 19 else None
