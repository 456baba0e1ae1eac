"""Pages of section billing_page. PLACEHOLDER: being written."""

from __future__ import annotations

from .ports import Services


def register(services: Services) -> None:
    """Register this module's pages."""
