"""/api/v1 routes of service meters (section «Сервис», manual 4.5 / 4.6).

Routes use cloud.api's Token, _service and parameter types (imported inside ``routes``: cloud.api
imports this module).
"""

# no ``from __future__ import annotations``: FastAPI reads the routes' annotations

from fastapi import APIRouter

from cloud.services.container import Services


def routes(api: APIRouter, services: Services) -> None:
    """Add this module's operations to the /api/v1 router."""
