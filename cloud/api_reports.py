"""/api/v1 routes of section reports (manual 4.3/4.4). PLACEHOLDER: being written."""

from fastapi import APIRouter

from cloud.services.container import Services


def routes(api: APIRouter, services: Services) -> None:
    """Add this module's operations to the /api/v1 router (operationIds are the function names)."""
