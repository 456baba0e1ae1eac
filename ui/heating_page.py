"""Temperature schedule control (4.2.5), the building's schedule (4.6.8) and the heating season (4.5.7).

Skeleton: filled in by its slice of issue 13.
"""

from __future__ import annotations

from typing import Any


def register(services: Any) -> None:
    """Register the pages: /monitoring/temperature, /settings/buildings/{id}/temperature, /service/season."""
