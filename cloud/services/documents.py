"""Documents attached to a meter (manual 4.5.2 «Просмотр ПУ»): the meter's passport, the commissioning
act of the metering point, the meter's verification certificate, a sensor's passport and a sensor's
verification certificate.

Each is a file under ``documents/`` next to the registry file, named by a random id (never by what the
user called it); the registry keeps its kind, original name, size, SHA-256, uploader and time. The
file is written to a temporary name, flushed and renamed before its row is committed, so a row never
names a half-written file; a download reads the file back and refuses it when its checksum or size is
not the one stored (a file changed or damaged on disk is never handed out as the document). Empty
files and files over MAX_BYTES are refused with the reason.

Who: reading and downloading, any dispatcher or engineer of the company and readers; uploading and
deleting, a dispatcher or engineer without reader status; administrators see none (manual 2.3).
Another company's meter or document is "not found". Uploads and deletions are audited in the same
transaction as the row. Tests: tests/integration/test_wizard.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import mimetypes
import os
import secrets
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cloud.services import audit
from cloud.services.auth import AuthService, require_operational_view, require_writer
from cloud.services.models import InvalidInput, NotFound, ServiceError, UserInfo, check_id
from cloud.storage.clickhouse import ClickHouse
from cloud.storage.registry import Registry

if TYPE_CHECKING:
    from cloud.services.commands import CommandService

KINDS = ("meter_passport", "commissioning_act", "meter_certificate", "sensor_passport", "sensor_certificate")
SENSOR_KINDS = ("sensor_passport", "sensor_certificate")
MAX_BYTES = 20 * 1024 * 1024  # a scanned passport of a few pages; more is a mistake (a video, an archive)
MAX_NAME = 200
MAX_PER_METER = 100
_REFUSAL = "meter documents are not available to administrators"


class DocumentCorrupted(ServiceError):
    """The stored file is missing or no longer matches the checksum recorded at upload."""

    code = "document_corrupted"


@dataclass(frozen=True, slots=True)
class DocumentInfo:
    id: int
    meter_id: int
    kind: str  # one of KINDS
    sensor: str  # the sensor's serial for a sensor's passport or certificate, else ""
    name: str  # the file name as uploaded
    content_type: str
    size: int  # bytes
    sha256: str  # hex
    uploaded_by: str | None  # full name
    uploaded_at: datetime  # UTC


def check_upload(kind: str, name: str, data: bytes, sensor: str = "") -> tuple[str, str, str]:
    """(kind, clean file name, sensor serial) of an upload, or InvalidInput saying what is wrong."""
    if kind not in KINDS:
        raise InvalidInput(f"kind: one of {', '.join(KINDS)}, got {kind!r}")
    base = Path(name.replace("\\", "/")).name.strip() if isinstance(name, str) else ""
    if not base or len(base) > MAX_NAME or not base.isprintable():
        raise InvalidInput(f"name: the file's name, 1 to {MAX_NAME} printable characters")
    if not isinstance(data, bytes | bytearray):
        raise InvalidInput("file: bytes expected")
    if not data:
        raise InvalidInput(f"file: {base} is empty (0 bytes); choose the scanned document")
    if len(data) > MAX_BYTES:
        raise InvalidInput(f"file: {base} is {len(data) / 1024 / 1024:.1f} MB; at most {MAX_BYTES // 1024 // 1024} MB")
    sensor = sensor.strip() if isinstance(sensor, str) else ""
    if kind in SENSOR_KINDS:
        if not sensor or len(sensor) > 64 or not sensor.isprintable():
            raise InvalidInput("sensor: the serial of the sensor the document is for (up to 64 characters)")
    elif sensor:
        raise InvalidInput(f"sensor: only a sensor's passport or certificate names a sensor, not a {kind}")
    return kind, base, sensor


def checksum(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class DocumentsService:
    def __init__(self, registry: Registry, clickhouse: ClickHouse, auth: AuthService,
                 commands: CommandService) -> None:
        self.registry = registry
        self.ch = clickhouse
        self.auth = auth
        self.commands = commands
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    @property
    def folder(self) -> Path:
        """Where the files are: ``documents`` next to the registry file."""
        return Path(self.registry.path).parent / "documents"

    # --- reads -------------------------------------------------------------------------------------
    async def list(self, token: str, meter_id: int) -> list[DocumentInfo]:
        """The meter's documents, newest first."""
        user = require_operational_view(await self.auth.user(token), _REFUSAL)

        def read() -> list[DocumentInfo]:
            with self.registry.connect() as db:
                _meter(db, user, meter_id)
                rows = db.execute(_SELECT + " WHERE d.meter_id = ? ORDER BY d.id DESC", (meter_id,)).fetchall()
                return [_info(r) for r in rows]
        return await asyncio.to_thread(read)

    async def download(self, token: str, document_id: int) -> tuple[DocumentInfo, bytes]:
        """The document and its bytes, checked against the size and SHA-256 stored at upload."""
        user = require_operational_view(await self.auth.user(token), _REFUSAL)

        def read() -> tuple[DocumentInfo, bytes]:
            with self.registry.connect() as db:
                row = _document(db, user, document_id)
            info = _info(row)
            path = self.folder / row["stored_name"]
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                raise DocumentCorrupted(f"document {document_id} ({info.name}): its file is missing from the "
                                        "document store") from None
            if len(data) != info.size or checksum(data) != info.sha256:
                raise DocumentCorrupted(f"document {document_id} ({info.name}): the stored file does not match its "
                                        f"checksum (SHA-256 {info.sha256[:12]}…, {info.size} bytes): it was changed "
                                        "or damaged on disk; upload it again")
            return info, data
        return await asyncio.to_thread(read)

    # --- changes ------------------------------------------------------------------------------------
    async def upload(self, token: str, meter_id: int, kind: str, name: str, data: bytes,
                     sensor: str = "") -> DocumentInfo:
        """Attach a file to the meter."""
        user = require_writer(await self.auth.user(token))
        check_id("meter_id", meter_id)
        kind, name, sensor = check_upload(kind, name, data, sensor)
        return await asyncio.to_thread(self._upload, user, meter_id, kind, name, bytes(data), sensor)

    def _upload(self, user: UserInfo, meter_id: int, kind: str, name: str, data: bytes, sensor: str) -> DocumentInfo:
        with self.registry.connect() as db:  # the meter is checked before anything is written
            _meter(db, user, meter_id)
            count = db.execute("SELECT count(*) FROM meter_documents WHERE meter_id = ?", (meter_id,)).fetchone()[0]
            if count >= MAX_PER_METER:
                raise InvalidInput(f"file: meter {meter_id} has {count} documents, the most it keeps; delete old ones")
        stored = secrets.token_hex(16)
        path = self._write(stored, data)
        try:
            with self.registry.connect() as db:
                _meter(db, user, meter_id)
                content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
                new_id = int(db.execute(
                    "INSERT INTO meter_documents (company_id, meter_id, kind, sensor, original_name, stored_name, "
                    "content_type, size, sha256, uploaded_by, uploaded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (user.company_id, meter_id, kind, sensor, name, stored, content_type, len(data), checksum(data),
                     user.id, self.clock().astimezone(UTC).isoformat())).lastrowid or 0)
                info = _info(_document(db, user, new_id))
                audit.record(db, user, "meter.document.upload", f"meter:{meter_id}", None, _state(info))
        except BaseException:
            path.unlink(missing_ok=True)  # no row names it: nothing may keep it
            raise
        return info

    def _write(self, stored: str, data: bytes) -> Path:
        """Write the file under its final name through a temporary one, flushed to disk."""
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        final = self.folder / stored
        part = self.folder / f"{stored}.part"
        with part.open("xb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        part.replace(final)
        return final

    async def delete(self, token: str, document_id: int) -> None:
        """Remove the document: its row (audited), then its file."""
        user = require_writer(await self.auth.user(token))

        def write() -> None:
            with self.registry.connect() as db:
                row = _document(db, user, document_id)
                info = _info(row)
                db.execute("DELETE FROM meter_documents WHERE id = ?", (document_id,))
                audit.record(db, user, "meter.document.delete", f"meter:{info.meter_id}", _state(info), None)
            (self.folder / row["stored_name"]).unlink(missing_ok=True)
        await asyncio.to_thread(write)


_SELECT = ("SELECT d.*, u.full_name FROM meter_documents d LEFT JOIN users u ON u.id = d.uploaded_by")


def _meter(db: sqlite3.Connection, user: UserInfo, meter_id: int) -> None:
    check_id("meter_id", meter_id)
    if db.execute("SELECT 1 FROM meters WHERE id = ? AND company_id = ?", (meter_id, user.company_id)).fetchone() \
            is None:
        raise NotFound(f"meter {meter_id} not found")


def _document(db: sqlite3.Connection, user: UserInfo, document_id: int) -> sqlite3.Row:
    check_id("document_id", document_id)
    row = db.execute(_SELECT + " WHERE d.id = ? AND d.company_id = ?", (document_id, user.company_id)).fetchone()
    if row is None:
        raise NotFound(f"document {document_id} not found")
    return row


def _info(row: sqlite3.Row) -> DocumentInfo:
    return DocumentInfo(row["id"], row["meter_id"], row["kind"], row["sensor"], row["original_name"],
                        row["content_type"], row["size"], row["sha256"], row["full_name"],
                        datetime.fromisoformat(row["uploaded_at"]))


def _state(info: DocumentInfo) -> dict[str, Any]:
    return {"document": info.id, "kind": info.kind, "sensor": info.sensor, "name": info.name, "size": info.size,
            "sha256": info.sha256}
