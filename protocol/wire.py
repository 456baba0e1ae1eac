"""The edge -> cloud wire: versioned msgpack batches (DESIGN.md section 6).

A batch is a msgpack map ``{"v", "site", "seq", "at", "records": [...]}`` and, from schema
version 2, optional sections ``"events"``, ``"lost"``, ``"radio"`` and ``"results"``. Each
item is a positional array (see the ``_*_FIELDS`` tuples) to keep batches small. All batches
of a site share one sequence, so the cloud's stored watermark covers every section.

Version 3 adds the batch's identity: ``"epoch"``, the random id of the edge buffer that built
it, and ``"digest"``, a digest of its content (``content_digest``). A batch is then named
``<site>:<epoch>:<seq>:<digest>`` (``Nats-Msg-Id``), so two different batches never share a
name, and event and radio ids are unique per (site, epoch). The cloud checks the digest on
every decode; a mismatch is a DecodeError on the field ``digest``.

A batch without an epoch is encoded as before: version 1 with archive records only, version
2 with any other section; an older cloud reads versions 1 and 2 and dead-letters a version 3
batch whole instead of storing it without its identity. The edge keeps one kind of content per
batch and publishes it on the subject that names it (``batch_subject``). Golden vectors in
tests/unit/protocol/test_wire.py and test_wire_sections.py pin the bytes.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from itertools import chain, compress
from typing import Any

import msgpack

from protocol import subjects
from protocol.errors import DecodeError
from protocol.subjects import check_site
from protocol.vocabulary import ArchiveKind, Nature

SCHEMA_VERSION = 3  # the newest version this code writes and reads
_READS = (1, 2, 3)
SECTIONS = ("records", "events", "lost", "radio", "results")  # in the order the digest covers them
EPOCH_HEX = 16  # an epoch is 64 random bits, lower-case hex
DIGEST_HEX = 32  # a digest is the first 128 bits of SHA-256, lower-case hex
_EPOCH = re.compile(rf"^[0-9a-f]{{{EPOCH_HEX}}}$")
_DIGEST = re.compile(rf"^[0-9a-f]{{{DIGEST_HEX}}}$")
SEVERITIES = ("info", "warning", "alarm")
EVENT_SOURCES = ("device", "edge")
RESULT_STATES = ("accepted", "done", "failed")


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
class DeviceEvent:
    """An entry of a device's event log, or something the edge itself must report."""

    id: int  # the edge's event row id: unique per (site, epoch of the batch), the cloud's key
    meter: str  # "" for an event of the edge itself (disk budget, renumbered batches ...)
    at: float  # UTC epoch seconds (device clock for device events, edge clock for edge events)
    code: str  # e.g. "integrity", "interference", "limit", "other", "clock_corrected", "values_evicted"
    severity: str  # one of SEVERITIES
    source: str  # one of EVENT_SOURCES
    detail: dict[str, str | int | float] = field(hash=False, default_factory=dict)


@dataclass(frozen=True, slots=True)
class LostPeriod:
    """An archive period the device can no longer give (older than its depth): never filled in."""

    meter: str
    kind: ArchiveKind
    period_start: int  # UTC epoch seconds
    reason: str
    reported_at: float = 0.0


@dataclass(frozen=True, slots=True)
class RadioRecord:
    """One LoRaWAN packet as the network server reported it (uplink) or the edge enqueued it (downlink)."""

    id: int  # the edge's radio row id: unique per (site, epoch of the batch)
    at: float  # UTC epoch seconds
    dev_eui: str
    direction: str  # "up" or "down"
    f_cnt: int
    f_port: int
    rssi: int | None
    snr: float | None
    gateway: str
    frequency: int
    payload: bytes
    error: str = ""  # why the payload did not decode, "" when it did


@dataclass(frozen=True, slots=True)
class CommandResult:
    """The edge's answer to a command from the cloud (protocol/commands.py)."""

    command_id: str
    state: str  # one of RESULT_STATES
    at: float
    detail: dict[str, Any] = field(hash=False, default_factory=dict)


@dataclass(frozen=True, slots=True)
class Batch:
    site: str
    seq: int  # per-site batch sequence, from 1
    records: tuple[ArchiveRecord, ...]
    created_at: float = 0.0
    events: tuple[DeviceEvent, ...] = ()
    lost: tuple[LostPeriod, ...] = ()
    radio: tuple[RadioRecord, ...] = ()
    results: tuple[CommandResult, ...] = ()
    epoch: str = ""  # the building buffer's epoch (EPOCH_HEX digits); "" for an edge before epochs (v1, v2)
    # the content digest as decoded (checked against the content); "" on a batch built locally.
    # Never trusted when encoding: ``encode`` always computes it from the content.
    digest: str = field(default="", compare=False)

    @property
    def msg_id(self) -> str:
        if not self.epoch:
            return msg_id(self.site, self.seq)
        return msg_id(self.site, self.seq, self.epoch, self.digest or content_digest(self))

    @property
    def version(self) -> int:
        if self.epoch:
            return 3
        return 2 if self.events or self.lost or self.radio or self.results else 1


@dataclass(frozen=True, slots=True)
class Encoded:
    """A batch ready to publish: its bytes, content digest ("" without an epoch), id and subject."""

    data: bytes
    digest: str
    msg_id: str
    subject: str


def batch_subject(batch: Batch) -> str:
    """The subject a batch travels on, named by its content (archive, then event, radio, state)."""
    if batch.records or not (batch.events or batch.lost or batch.radio or batch.results):
        return subjects.archive_subject(batch.site)
    if batch.events or batch.lost:
        return subjects.event_subject(batch.site)
    if batch.radio:
        return subjects.radio_subject(batch.site)
    return subjects.state_subject(batch.site)


def msg_id(site: str, seq: int, epoch: str = "", digest: str = "") -> str:
    """The JetStream ``Nats-Msg-Id`` of a batch: the broker drops a repeat within its window.
    ``<site>:<epoch>:<seq>:<digest>`` from version 3 (two different batches never share it),
    ``<site>:<seq>`` for a batch without an epoch."""
    return f"{site}:{epoch}:{seq}:{digest}" if epoch else f"{site}:{seq}"


_RECORD_FIELDS = (
    "meter", "channel", "kind", "nature", "period_start", "values", "quality", "version", "received_at",
)


_EVENT_FIELDS = ("id", "meter", "at", "code", "severity", "source", "detail")
_LOST_FIELDS = ("meter", "kind", "period_start", "reason", "reported_at")
_RADIO_FIELDS = ("id", "at", "dev_eui", "direction", "f_cnt", "f_port", "rssi", "snr", "gateway", "frequency",
                 "payload", "error")
_RESULT_FIELDS = ("command_id", "state", "at", "detail")


def _sections(batch: Batch) -> dict[str, list[list[Any]]]:
    """Every section as the positional arrays it travels as (empty lists for absent ones)."""
    return {
        "records": [[r.meter, r.channel, r.kind.value, r.nature.value, r.period_start, r.values, r.quality,
                     r.version, r.received_at] for r in batch.records],
        "events": [[e.id, e.meter, e.at, e.code, e.severity, e.source, e.detail] for e in batch.events],
        "lost": [[x.meter, x.kind.value, x.period_start, x.reason, x.reported_at] for x in batch.lost],
        "radio": [[p.id, p.at, p.dev_eui, p.direction, p.f_cnt, p.f_port, p.rssi, p.snr, p.gateway, p.frequency,
                   p.payload, p.error] for p in batch.radio],
        "results": [[c.command_id, c.state, c.at, c.detail] for c in batch.results],
    }


def _digest(packed: list[bytes]) -> str:
    """SHA-256 of a msgpack array of the five sections (0x95, then each as packed: the bytes the
    batch carries, an absent section as an empty array 0x90), first 128 bits."""
    return hashlib.sha256(b"\x95" + b"".join(packed)).hexdigest()[:DIGEST_HEX]


def content_digest(batch: Batch) -> str:
    """The digest of a batch's content: what ``encode`` puts in ``"digest"`` and the message id.
    It covers the five sections only (not site, epoch, seq or time), so a renumbered batch keeps it."""
    return _digest([_pack(section) for section in _sections(batch).values()])


def _pack(value: Any) -> bytes:
    return msgpack.packb(value, use_bin_type=True)


def encode(batch: Batch) -> Encoded:
    """The bytes to publish and what names them. A version 3 map is assembled from its packed
    parts, so each section is packed once for both the digest and the message."""
    sections = _sections(batch)
    if not batch.epoch:
        doc: dict[str, Any] = {"v": batch.version, "site": batch.site, "seq": batch.seq, "at": batch.created_at,
                               "records": sections["records"]}
        doc.update((k, v) for k, v in sections.items() if k != "records" and v)
        return Encoded(_pack(doc), "", msg_id(batch.site, batch.seq), batch_subject(batch))
    packed = {k: _pack(v) for k, v in sections.items() if v}
    return encode_packed(batch.site, batch.seq, batch.epoch, batch.created_at, packed, batch_subject(batch))


def pack_record(r: ArchiveRecord) -> bytes:
    """One archive record as it travels inside a batch's ``records`` array. The edge keeps these
    bytes per record (edge/buffer.py), so building a batch is a concatenation, not a re-encoding.
    Values are packed as floats, as the cloud decodes them: a record re-encoded after decoding
    gives the same bytes, hence the same digest."""
    return _pack([r.meter, r.channel, r.kind.value, r.nature.value, r.period_start,
                  {k: float(v) for k, v in r.values.items()}, r.quality, r.version, float(r.received_at)])


def packed_array(items: list[bytes]) -> bytes:
    """A msgpack array of already packed items: its header, then the items as they are."""
    n = len(items)
    if n < 16:
        head = bytes([0x90 | n])
    else:
        head = b"\xdc" + n.to_bytes(2, "big") if n < 2**16 else b"\xdd" + n.to_bytes(4, "big")
    return head + b"".join(items)


def encode_packed(site: str, seq: int, epoch: str, created_at: float, sections: dict[str, bytes],
                  subject: str) -> Encoded:
    """A version 3 batch from sections already packed (``packed_array`` of ``pack_record``s for
    archive records); an absent section is left out of the map and counts as empty in the digest."""
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        raise ValueError(f"unknown batch sections {sorted(unknown)}; known: {', '.join(SECTIONS)}")
    digest = _digest([sections.get(k, b"\x90") for k in SECTIONS])
    parts = [("v", _pack(3)), ("site", _pack(site)), ("epoch", _pack(epoch)), ("seq", _pack(seq)),
             ("digest", _pack(digest)), ("at", _pack(created_at)), ("records", sections.get("records", b"\x90"))]
    parts += [(k, sections[k]) for k in SECTIONS[1:] if k in sections]
    data = bytes([0x80 | len(parts)]) + b"".join(_pack(k) + v for k, v in parts)  # a fixmap: at most 11 keys
    return Encoded(data, digest, msg_id(site, seq, epoch, digest), subject)


def encode_batch(batch: Batch) -> bytes:
    return encode(batch).data


def decode_batch(data: bytes) -> Batch:
    """Decode and validate a batch; DecodeError names the first field that is wrong."""
    batch, records = decode_batch_columns(data)
    return Batch(site=batch.site, seq=batch.seq, records=records.records(), created_at=batch.created_at,
                 events=batch.events, lost=batch.lost, radio=batch.radio, results=batch.results, epoch=batch.epoch,
                 digest=batch.digest)


def decode_batch_columns(data: bytes) -> tuple[Batch, RecordColumns]:
    """Decode and validate a batch as ``decode_batch`` does, its archive records as columns: the
    batch comes with ``records=()`` and its records are the RecordColumns. For the cloud ingest,
    which stores the records column by column and need not build one ArchiveRecord per record."""
    try:
        doc = msgpack.unpackb(data, raw=False, strict_map_key=True)
    except (msgpack.UnpackException, ValueError) as exc:
        raise DecodeError("batch", f"not msgpack: {exc}") from exc
    if not isinstance(doc, dict):
        raise DecodeError("batch", f"expected a map, got {type(doc).__name__}")
    version = doc.get("v")
    if type(version) is not int or version not in _READS:
        raise UnsupportedVersion("v", f"unsupported schema version {version!r} (this code reads {_READS})")
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
    for key in SECTIONS[1:]:
        if key in doc:
            if version == 1:
                raise DecodeError(key, "a version 1 batch carries archive records only")
            _typed(doc, key, list)
    epoch, digest = _identity(doc, version, data)
    records = _decode_records(raw_records)
    sections: dict[str, tuple] = {}
    for key, decode in (("events", _decode_event), ("lost", _decode_lost), ("radio", _decode_radio),
                        ("results", _decode_result)):
        if key in doc:
            sections[key] = tuple(decode(raw, f"{key}[{i}]") for i, raw in enumerate(doc[key]))
    batch = Batch(site=site, seq=seq, records=(), created_at=created_at, epoch=epoch, digest=digest, **sections)
    return batch, records


_KINDS = {k.value: k for k in ArchiveKind}
_NATURES = {n.value: n for n in Nature}


@dataclass(frozen=True, slots=True)
class RecordColumns:
    """Archive records column by column, checked as ``decode_batch`` checks them: kinds and
    natures as their wire values, values and receive times as floats; ``parameters`` and
    ``numbers`` are every record's value map flattened, in record order. The cloud ingest stores
    a batch's records from these without building one ArchiveRecord (and one row) per record."""

    meter: tuple[str, ...]
    channel: tuple[int, ...]
    kind: tuple[str, ...]
    nature: tuple[str, ...]
    period_start: tuple[int, ...]
    values: tuple[dict[str, float], ...]
    quality: tuple[int, ...]
    version: tuple[int, ...]
    received_at: tuple[float, ...]
    parameters: list[str]
    numbers: list[float]

    def __len__(self) -> int:
        return len(self.meter)

    @classmethod
    def of(cls, records: tuple[ArchiveRecord, ...] | list[ArchiveRecord]) -> RecordColumns:
        """The columns of records built in memory (tests, and callers that hold ArchiveRecords)."""
        if not records:
            return cls((), (), (), (), (), (), (), (), (), [], [])
        return cls._flattened(*zip(*((r.meter, r.channel, r.kind.value, r.nature.value, r.period_start, r.values,
                                      r.quality, r.version, r.received_at) for r in records), strict=True))

    @classmethod
    def _flattened(cls, meter: tuple[Any, ...], channel: tuple[Any, ...], kind: tuple[Any, ...],
                   nature: tuple[Any, ...], period_start: tuple[Any, ...], values: tuple[Any, ...],
                   quality: tuple[Any, ...], version: tuple[Any, ...], received_at: tuple[Any, ...]) -> RecordColumns:
        """The nine columns, with the value maps flattened into ``parameters`` and ``numbers``."""
        return cls(meter, channel, kind, nature, period_start, values, quality, version, received_at,
                   list(chain.from_iterable(values)), list(chain.from_iterable(map(dict.values, values))))

    def columns(self) -> tuple[tuple[Any, ...], ...]:
        """The nine columns in wire order (``_RECORD_FIELDS``)."""
        return (self.meter, self.channel, self.kind, self.nature, self.period_start, self.values, self.quality,
                self.version, self.received_at)

    def records(self) -> tuple[ArchiveRecord, ...]:
        return tuple(map(ArchiveRecord, self.meter, self.channel, map(_KINDS.__getitem__, self.kind),
                         map(_NATURES.__getitem__, self.nature), self.period_start, self.values, self.quality,
                         self.version, self.received_at))

    def select(self, keep: list[bool]) -> RecordColumns:
        """The records whose ``keep`` entry is true, in order."""
        return RecordColumns._flattened(*(tuple(compress(column, keep)) for column in self.columns()))


def _decode_records(raw_records: list[Any]) -> RecordColumns:
    """The records section. Whole columns are checked at once (C-level set, min and sum over
    each); only when a check fails are the records walked one by one, so the error names the
    first bad field exactly as the per-record check always has."""
    columns = _record_columns(raw_records)
    if columns is not None:
        return columns
    records = [_decode_record(raw, f"records[{i}]") for i, raw in enumerate(raw_records)]
    # every record passed: a column check is stricter than the records' (a sum of finite values
    # that overflows): the records as checked one by one are right
    return RecordColumns.of(records)


def _record_columns(raw_records: list[Any]) -> RecordColumns | None:
    """The records as columns if every column passes the checks of ``_decode_record``; None when
    one fails (or when a check here is merely stricter, e.g. a sum of finite values overflows)."""
    if not raw_records:
        return RecordColumns.of(())
    if set(map(type, raw_records)) != {list} or set(map(len, raw_records)) != {len(_RECORD_FIELDS)}:
        return None
    meter, channel, kind, nature, period_start, values, quality, version, received_at = zip(*raw_records, strict=True)
    if set(map(type, meter)) != {str} or not all(meter):
        return None
    for column in (channel, period_start, quality, version):
        if set(map(type, column)) != {int} or min(column) < 0:  # bool is a type of its own: refused
            return None
    for column, known in ((kind, _KINDS), (nature, _NATURES)):
        if set(map(type, column)) != {str} or not known.keys() >= set(column):
            return None
    if set(map(type, values)) != {dict} or not all(values):
        return None
    parameters = list(chain.from_iterable(values))
    if set(map(type, parameters)) != {str}:
        return None
    numbers = list(chain.from_iterable(map(dict.values, values)))
    value_types = set(map(type, numbers))
    if not value_types <= {float, int} or not math.isfinite(sum(numbers)):
        return None  # a nan or an infinity makes the sum one too
    if int in value_types:
        values = tuple({code: float(value) for code, value in d.items()} for d in values)
        numbers = list(map(float, numbers))
    received_types = set(map(type, received_at))
    if not received_types <= {float, int} or not math.isfinite(sum(received_at)):
        return None
    if int in received_types:
        received_at = tuple(map(float, received_at))
    return RecordColumns(meter, channel, kind, nature, period_start, values, quality, version, received_at,
                         parameters, numbers)


def _identity(doc: dict[str, Any], version: int, data: bytes) -> tuple[str, str]:
    """(epoch, digest) of a version 3 batch, the digest checked against the content as it came;
    ("", "") before version 3."""
    if version < 3:
        for key in ("epoch", "digest"):
            if key in doc:
                raise DecodeError(key, f"a version {version} batch carries no {key} (version 3 does)")
        return "", ""
    epoch = _typed(doc, "epoch", str)
    if not _EPOCH.match(epoch):
        raise DecodeError("epoch", f"must be {EPOCH_HEX} lower-case hex digits, got {epoch!r}")
    claimed = _typed(doc, "digest", str)
    if not _DIGEST.match(claimed):
        raise DecodeError("digest", f"must be {DIGEST_HEX} lower-case hex digits, got {claimed!r}")
    spans = _value_spans(data)
    actual = _digest([data[spans[key][0]:spans[key][1]] if key in spans else b"\x90" for key in SECTIONS])
    if actual != claimed:
        raise DecodeError("digest", f"{claimed} does not match the content (its digest is {actual})")
    return epoch, claimed


def _value_spans(data: bytes) -> dict[str, tuple[int, int]]:
    """Where each top-level value of a batch map lies in ``data`` (read once more, skipping the
    values: cheaper than packing the sections again)."""
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=True, max_buffer_size=max(len(data), 1))
    unpacker.feed(data)
    spans = {}
    for _ in range(unpacker.read_map_header()):
        key = unpacker.unpack()
        start = unpacker.tell()
        unpacker.skip()
        spans[key] = (start, unpacker.tell())
    return spans


def _fields(raw: Any, where: str, names: tuple[str, ...]) -> list[Any]:
    if not isinstance(raw, list) or len(raw) != len(names):
        raise DecodeError(where, f"expected an array of {len(names)} fields ({', '.join(names)})")
    return raw


def _text(value: Any, where: str, allowed: tuple[str, ...] = (), empty: bool = False) -> str:
    if not isinstance(value, str) or (not value and not empty):
        raise DecodeError(where, f"must be a {'' if empty else 'non-empty '}string, got {value!r}")
    if allowed and value not in allowed:
        raise DecodeError(where, f"must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _count(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise DecodeError(where, f"must be a non-negative integer, got {value!r}")
    return value


def _detail(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise DecodeError(where, "must be a map with string keys")
    return value


def _decode_event(raw: Any, where: str) -> DeviceEvent:
    id_, meter, at, code, severity, source, detail = _fields(raw, where, _EVENT_FIELDS)
    return DeviceEvent(id=_count(id_, f"{where}.id"), meter=_text(meter, f"{where}.meter", empty=True),
                       at=_number(at, f"{where}.at"), code=_text(code, f"{where}.code"),
                       severity=_text(severity, f"{where}.severity", SEVERITIES),
                       source=_text(source, f"{where}.source", EVENT_SOURCES),
                       detail=_detail(detail, f"{where}.detail"))


def _decode_lost(raw: Any, where: str) -> LostPeriod:
    meter, kind, period_start, reason, reported_at = _fields(raw, where, _LOST_FIELDS)
    try:
        kind_ = ArchiveKind(kind)
    except ValueError:
        raise DecodeError(f"{where}.kind", f"unknown archive kind {kind!r}") from None
    return LostPeriod(meter=_text(meter, f"{where}.meter"), kind=kind_,
                      period_start=_count(period_start, f"{where}.period_start"),
                      reason=_text(reason, f"{where}.reason", empty=True),
                      reported_at=_number(reported_at, f"{where}.reported_at"))


def _decode_radio(raw: Any, where: str) -> RadioRecord:
    id_, at, dev_eui, direction, f_cnt, f_port, rssi, snr, gateway, frequency, payload, error = _fields(
        raw, where, _RADIO_FIELDS)
    if rssi is not None and (not isinstance(rssi, int) or isinstance(rssi, bool)):
        raise DecodeError(f"{where}.rssi", f"must be an integer or nil, got {rssi!r}")
    if not isinstance(payload, bytes):
        raise DecodeError(f"{where}.payload", f"must be binary, got {type(payload).__name__}")
    return RadioRecord(id=_count(id_, f"{where}.id"), at=_number(at, f"{where}.at"),
                       dev_eui=_text(dev_eui, f"{where}.dev_eui"),
                       direction=_text(direction, f"{where}.direction", ("up", "down")),
                       f_cnt=_count(f_cnt, f"{where}.f_cnt"), f_port=_count(f_port, f"{where}.f_port"),
                       rssi=rssi, snr=None if snr is None else _number(snr, f"{where}.snr"),
                       gateway=_text(gateway, f"{where}.gateway", empty=True),
                       frequency=_count(frequency, f"{where}.frequency"), payload=payload,
                       error=_text(error, f"{where}.error", empty=True))


def _decode_result(raw: Any, where: str) -> CommandResult:
    command_id, state, at, detail = _fields(raw, where, _RESULT_FIELDS)
    return CommandResult(command_id=_text(command_id, f"{where}.command_id"),
                         state=_text(state, f"{where}.state", RESULT_STATES), at=_number(at, f"{where}.at"),
                         detail=_detail(detail, f"{where}.detail"))


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
