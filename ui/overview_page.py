"""Settings page «Небаланс» (manual 4.6.10); the 4.1.1 page is ui/accounting.py's "/".

Skeleton: filled in by its slice of issue 13.
"""

from __future__ import annotations

from typing import Any


def register(services: Any) -> None:
    """Register the pages: /settings/imbalance."""
