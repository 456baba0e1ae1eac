"""The registry: companies, users and sessions, buildings, premises, meters and their channels,
API tokens, the audit log and recorded counter breaks (meter replacements and resets).

SQLite in WAL mode behind plain SQL; versioned migrations run at open. The service layer
is its only caller. Connections are per call (cheap for SQLite) so that any thread may use it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MIGRATIONS: tuple[tuple[int, str], ...] = (
    (1, """
CREATE TABLE companies (id INTEGER PRIMARY KEY, name TEXT NOT NULL, city TEXT NOT NULL);
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    company_id INTEGER NOT NULL REFERENCES companies(id),
    login TEXT NOT NULL UNIQUE,
    full_name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('administrator', 'dispatcher', 'engineer')),
    reader INTEGER NOT NULL DEFAULT 0,
    blocked INTEGER NOT NULL DEFAULT 0,
    password_hash TEXT NOT NULL
);
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE TABLE buildings (
    id INTEGER PRIMARY KEY,
    company_id INTEGER NOT NULL REFERENCES companies(id),
    site TEXT NOT NULL,
    address TEXT NOT NULL,
    city TEXT NOT NULL,
    time_zone TEXT NOT NULL,
    area_m2 REAL NOT NULL,
    residents INTEGER NOT NULL,
    UNIQUE (company_id, address)
);
CREATE TABLE premises (
    id INTEGER PRIMARY KEY,
    building_id INTEGER NOT NULL REFERENCES buildings(id),
    number TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('apartment', 'nonresidential')),
    area_m2 REAL NOT NULL,
    residents INTEGER NOT NULL,
    account TEXT NOT NULL DEFAULT '',
    UNIQUE (building_id, number)
);
CREATE TABLE meters (
    id INTEGER PRIMARY KEY,
    company_id INTEGER NOT NULL REFERENCES companies(id),
    building_id INTEGER NOT NULL REFERENCES buildings(id),
    premise_id INTEGER REFERENCES premises(id),
    serial TEXT NOT NULL,
    model TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('individual', 'common')),
    communicator TEXT NOT NULL,
    archives TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'in_service',
    UNIQUE (company_id, serial)
);
CREATE TABLE meter_channels (
    meter_id INTEGER NOT NULL REFERENCES meters(id),
    number INTEGER NOT NULL,
    resource TEXT NOT NULL,
    parameters TEXT NOT NULL,
    PRIMARY KEY (meter_id, number)
);
CREATE INDEX meters_building ON meters(building_id);
CREATE INDEX premises_building ON premises(building_id);
"""),
    (2, """
CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_by INTEGER NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    company_id INTEGER NOT NULL REFERENCES companies(id),
    user_id INTEGER REFERENCES users(id),
    at TEXT NOT NULL,
    action TEXT NOT NULL,
    object TEXT NOT NULL,
    before TEXT,
    after TEXT
);
CREATE INDEX audit_company_at ON audit_log(company_id, at);
CREATE TABLE counter_breaks (
    id INTEGER PRIMARY KEY,
    meter_id INTEGER NOT NULL REFERENCES meters(id),
    channel INTEGER NOT NULL,
    parameter TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('replacement', 'reset')),
    first_period TEXT NOT NULL,
    final_value REAL NOT NULL,
    initial_value REAL NOT NULL,
    UNIQUE (meter_id, channel, parameter, first_period)
);
"""),
)


class Registry:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)")
            applied = {r[0] for r in db.execute("SELECT version FROM schema_migrations")}
            for version, ddl in MIGRATIONS:
                if version not in applied:
                    db.executescript(f"BEGIN;\n{ddl}\nINSERT INTO schema_migrations VALUES ({version});\nCOMMIT;")
        finally:
            db.close()

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A connection in a transaction: committed on success, rolled back on error."""
        db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("PRAGMA synchronous=FULL")
        try:
            db.execute("BEGIN")
            yield db
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    def one(self, sql: str, *args: object) -> sqlite3.Row | None:
        with self.connect() as db:
            return db.execute(sql, args).fetchone()

    def all(self, sql: str, *args: object) -> list[sqlite3.Row]:
        with self.connect() as db:
            return db.execute(sql, args).fetchall()

    def meter_serials_by_site(self) -> dict[str, set[str]]:
        """Site -> serials of the meters registered for its buildings: the ingest's meter lookup."""
        out: dict[str, set[str]] = {}
        for row in self.all("SELECT b.site, m.serial FROM meters m JOIN buildings b ON b.id = m.building_id"):
            out.setdefault(row["site"], set()).add(row["serial"])
        return out
