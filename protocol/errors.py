"""The one error every decoder in protocol/ raises: which field was wrong, and why."""

from __future__ import annotations


class DecodeError(ValueError):
    """Input bytes or objects that do not follow a format.

    ``field`` names the part of the input that was wrong (``"crc"``, ``"records[3].period"``),
    ``reason`` says what was wrong with it.
    """

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
