"""/api/v1/resident routes: the residents' app (manual 3.6) for a resident's own client.

Placeholder: filled in by the resident API work (issue 16). Wired by cloud/api.py's ``integration_router``.
"""

from fastapi import APIRouter

from cloud.services.container import Services


def routes(api: APIRouter, services: Services) -> None:
    """Add the routes to ``api`` (the /api/v1 router)."""
