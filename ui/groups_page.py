"""Balance groups: the building page (manual 4.1.8) and the editor (4.6.6).

Skeleton: filled in by its slice of issue 13.
"""

from __future__ import annotations

from typing import Any


def register(services: Any) -> None:
    """Register the pages: /buildings/{id}/groups, /settings/buildings/{id}/groups."""
