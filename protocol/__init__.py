"""Pure protocol layer shared by every tier: vocabulary, device codecs, the edge<->cloud wire.

Imports only the standard library, ``msgpack`` (a pure codec) and itself; no I/O
(tests/unit/test_layering.py enforces it). Tests: tests/unit/protocol/.
"""

from protocol.errors import DecodeError

__all__ = ["DecodeError"]
