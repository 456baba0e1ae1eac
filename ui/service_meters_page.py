"""Pages of section «Сервис» / «Настройки»: service meters (manual 4.5 / 4.6)."""

from __future__ import annotations

from .ports import Services


def register(services: Services) -> None:
    """Register this module's pages."""
