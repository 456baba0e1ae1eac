"""The residents' app pages under /kv (manual 3.6, the КВ application).

Placeholder: filled in by the resident UI work (issue 16). Registered by ui/__init__.py.
"""

from __future__ import annotations

from .ports import Services


def register(services: Services) -> None:
    """Register the residents' pages."""
