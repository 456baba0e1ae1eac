"""The event journal (manual 4.2.2) and event subscriptions (4.6.13).

Skeleton: filled in by its slice of issue 13.
"""

from __future__ import annotations

from typing import Any


def register(services: Any) -> None:
    """Register the pages: /monitoring/events, /settings/subscriptions."""
