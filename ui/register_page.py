"""Building page «Реестр потребления» (manual 4.1.5).

Skeleton: filled in by its slice of issue 13.
"""

from __future__ import annotations

from typing import Any


def register(services: Any) -> None:
    """Register the pages: /buildings/{id}/register."""
