"""skeleton"""

from typing import Any


def register(services: Any) -> None:
    """-"""
