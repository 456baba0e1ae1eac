"""/api/v1 routes of LoRa monitoring (4.2.4);
every figure the page shows is an answer here.

Skeleton: filled in by its slice of issue 13. Routes use cloud.api's Token, _service and parameter types.
"""

from __future__ import annotations

from fastapi import APIRouter

from cloud.services.container import Services


def routes(api: APIRouter, services: Services) -> None:
    """Add the routes to ``api`` (the /api/v1 router; operationIds are the function names)."""
