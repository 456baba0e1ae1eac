"""Deviation monitoring (manual 4.2.1) and its settings (4.6.7).

Skeleton: filled in by its slice of issue 13.
"""

from __future__ import annotations

from typing import Any


def register(services: Any) -> None:
    """Register the pages: /monitoring/deviations, /settings/buildings/{id}/deviations."""
