"""The edge -> cloud wire: versioned msgpack batches of archive records (DESIGN.md section 6).

A batch is a msgpack map ``{"v": 1, "site", "seq", "at", "records": [...]}``; each record
is a positional array (see ``_RECORD_FIELDS``) to keep batches small. Golden vectors in
tests/unit/protocol/test_wire.py pin the bytes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import msgpack

from protocol.errors import DecodeError
from protocol.subjects import check_site
from protocol.vocabulary import ArchiveKind, Nature

SCHEMA_VERSION = 1


class UnsupportedVersion(DecodeError):
    """A batch of a schema version this code does not know (newer edge, or garbage)."""


@dataclass(frozen=True, slots=True)
class ArchiveRecord:
    meter: str  # meter serial, unique within the company
    channel: int
    kind: ArchiveKind
    nature: Nature
    period_start: int  # UTC epoch seconds, from the device clock and the building's zone
    values: dict[str, float] = field(hash=False)  # by parameter code
    quality: int = 0
    version: int = 0  # 0 = as read from the device; corrections carry higher versions
    received_at: float = 0.0  # edge receive time, UTC epoch seconds


@dataclass(frozen=True, slots=True)
class Batch:
    site: str
    seq: int  # per-site batch sequence, from 1, contiguous
    records: tuple[ArchiveRecord, ...]
    created_at: float = 0.0

    @property
    def msg_id(self) -> str:
        return msg_id(self.site, self.seq)


def msg_id(site: str, seq: int) -> str:
    """The JetStream ``Nats-Msg-Id`` of a batch: the broker drops a repeat within its window."""
    return f"{site}:{seq}"


_RECORD_FIELDS = (
    "meter", "channel", "kind", "nature", "period_start", "values", "quality", "version", "received_at",
)


def encode_batch(batch: Batch) -> bytes:
    records = [
        [r.meter, r.channel, r.kind.value, r.nature.value, r.period_start, r.values, r.quality, r.version,
         r.received_at]
        for r in batch.records
    ]
    doc = {"v": SCHEMA_VERSION, "site": batch.site, "seq": batch.seq, "at": batch.created_at, "records": records}
    return msgpack.packb(doc, use_bin_type=True)


def decode_batch(data: bytes) -> Batch:
    """Decode and validate a batch; DecodeError names the first field that is wrong."""
    try:
        doc = msgpack.unpackb(data, raw=False, strict_map_key=True)
    except (msgpack.UnpackException, ValueError) as exc:
        raise DecodeError("batch", f"not msgpack: {exc}") from exc
    if not isinstance(doc, dict):
        raise DecodeError("batch", f"expected a map, got {type(doc).__name__}")
    version = doc.get("v")
    if type(version) is not int or version != SCHEMA_VERSION:
        raise UnsupportedVersion("v", f"unsupported schema version {version!r} (this code reads {SCHEMA_VERSION})")
    site = _typed(doc, "site", str)
    try:
        check_site(site)
    except ValueError as exc:
        raise DecodeError("site", str(exc)) from exc
    seq = _typed(doc, "seq", int)
    if seq < 1:
        raise DecodeError("seq", f"must be >= 1, got {seq}")
    created_at = _number(doc.get("at", 0.0), "at")
    raw_records = _typed(doc, "records", list)
    records = tuple(_decode_record(raw, f"records[{i}]") for i, raw in enumerate(raw_records))
    return Batch(site=site, seq=seq, records=records, created_at=created_at)


def _decode_record(raw: Any, where: str) -> ArchiveRecord:
    if not isinstance(raw, list) or len(raw) != len(_RECORD_FIELDS):
        raise DecodeError(where, f"expected an array of {len(_RECORD_FIELDS)} fields")
    meter, channel, kind, nature, period_start, values, quality, version, received_at = raw
    if not isinstance(meter, str) or not meter:
        raise DecodeError(f"{where}.meter", "must be a non-empty string")
    for name, value in (("channel", channel), ("period_start", period_start), ("quality", quality),
                        ("version", version)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise DecodeError(f"{where}.{name}", f"must be a non-negative integer, got {value!r}")
    try:
        kind_ = ArchiveKind(kind)
    except ValueError:
        raise DecodeError(f"{where}.kind", f"unknown archive kind {kind!r}") from None
    try:
        nature_ = Nature(nature)
    except ValueError:
        raise DecodeError(f"{where}.nature", f"unknown archive nature {nature!r}") from None
    if not isinstance(values, dict) or not values:
        raise DecodeError(f"{where}.values", "must be a non-empty map of parameter -> number")
    checked: dict[str, float] = {}
    for code, value in values.items():
        if not isinstance(code, str):
            raise DecodeError(f"{where}.values", f"parameter code {code!r} is not a string")
        checked[code] = _number(value, f"{where}.values.{code}")
    return ArchiveRecord(
        meter=meter, channel=channel, kind=kind_, nature=nature_, period_start=period_start, values=checked,
        quality=quality, version=version, received_at=_number(received_at, f"{where}.received_at"),
    )


def _typed(doc: dict[str, Any], key: str, kind: type) -> Any:
    if key not in doc:
        raise DecodeError(key, "missing")
    value = doc[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise DecodeError(key, f"expected {kind.__name__}, got {type(value).__name__}")
    return value


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise DecodeError(where, f"expected a finite number, got {value!r}")
    return float(value)
