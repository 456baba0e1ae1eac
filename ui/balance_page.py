"""Building pages «Потребление в разрезе помещений» (4.1.4), «Приборы учета объекта» (4.1.3)
and the setting «Приборы» (4.6.5).

Skeleton: filled in by its slice of issue 13.
"""

from __future__ import annotations

from typing import Any


def register(services: Any) -> None:
    """Register the pages: /buildings/{id}/premises, /buildings/{id}/meters, /settings/buildings/{id}/balance."""
