"""The registry: companies, users and sessions, buildings, premises, meters and their channels,
API tokens, the audit log and recorded counter breaks (meter replacements and resets).

SQLite in WAL mode behind plain SQL; versioned migrations run at open. The service layer
is its only caller. Any thread may use it: a write opens a connection of its own, and each
thread keeps one read-only connection for its reads (``Registry.reading``).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cloud.storage.registry_ddl import BILLING_DDL, RESIDENTS_DDL, SERVICE_DDL

# 4.6.5: each apartment meter's place in the building balance: added, subtracted or left out
BALANCE_SIGN_DDL = """
ALTER TABLE meters ADD COLUMN balance_sign TEXT NOT NULL DEFAULT '+' CHECK (balance_sign IN ('+', '-', 'excluded'));
"""
# 4.6.6 / 4.1.8: balance groups, a root meter and signed child meters of one resource
BALANCE_GROUPS_DDL = """
CREATE TABLE balance_groups (
    id INTEGER PRIMARY KEY,
    building_id INTEGER NOT NULL REFERENCES buildings(id),
    name TEXT NOT NULL,
    resource TEXT NOT NULL,
    root_meter_id INTEGER NOT NULL REFERENCES meters(id),
    created_by INTEGER REFERENCES users(id),
    created_at TEXT NOT NULL,
    UNIQUE (building_id, name)
);
CREATE TABLE balance_group_members (
    group_id INTEGER NOT NULL REFERENCES balance_groups(id) ON DELETE CASCADE,
    meter_id INTEGER NOT NULL REFERENCES meters(id),
    sign TEXT NOT NULL CHECK (sign IN ('+', '-')),
    PRIMARY KEY (group_id, meter_id)
);
"""
# 4.6.7: deviation monitoring rules per building and parameter, off by default
DEVIATION_RULES_DDL = """
CREATE TABLE deviation_rules (
    building_id INTEGER NOT NULL REFERENCES buildings(id),
    resource TEXT NOT NULL,
    parameter TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 0,
    rule TEXT NOT NULL CHECK (rule IN ('mean3d', 'constant')),
    reference REAL,
    direction TEXT NOT NULL DEFAULT 'both' CHECK (direction IN ('both', 'above', 'below')),
    tolerance REAL NOT NULL CHECK (tolerance >= 0),
    tolerance_unit TEXT NOT NULL DEFAULT 'percent' CHECK (tolerance_unit IN ('percent', 'absolute')),
    updated_by INTEGER REFERENCES users(id),
    updated_at TEXT NOT NULL,
    PRIMARY KEY (building_id, resource, parameter)
);
"""
# 4.6.8 / 4.2.5: the city's default temperature schedule and tolerances, a building's own schedule
TEMPERATURE_SCHEDULE_DDL = """
ALTER TABLE cities ADD COLUMN supply_tolerance_pct REAL NOT NULL DEFAULT 3;
ALTER TABLE cities ADD COLUMN return_tolerance_pct REAL NOT NULL DEFAULT 5;
CREATE TABLE city_temperature_schedule (
    city_id INTEGER NOT NULL REFERENCES cities(id),
    outdoor_c INTEGER NOT NULL,
    supply_c REAL NOT NULL,
    return_c REAL NOT NULL,
    PRIMARY KEY (city_id, outdoor_c)
);
CREATE TABLE building_temperature_schedule (
    building_id INTEGER NOT NULL REFERENCES buildings(id),
    outdoor_c INTEGER NOT NULL,
    supply_c REAL NOT NULL,
    return_c REAL NOT NULL,
    updated_by INTEGER REFERENCES users(id),
    updated_at TEXT NOT NULL,
    PRIMARY KEY (building_id, outdoor_c)
);
"""
# 4.5.7: the heating season per building, its history kept (undone_at: the change was undone)
HEATING_SEASON_DDL = """
CREATE TABLE heating_seasons (
    id INTEGER PRIMARY KEY,
    building_id INTEGER NOT NULL REFERENCES buildings(id),
    season TEXT NOT NULL CHECK (season IN ('heating', 'non_heating')),
    starts_on TEXT NOT NULL,
    set_by INTEGER REFERENCES users(id),
    set_at TEXT NOT NULL,
    undone_at TEXT
);
CREATE INDEX heating_seasons_building ON heating_seasons(building_id, starts_on);
"""
# 4.6.10: allowed imbalance in % per resource: the city's default, a building's override
IMBALANCE_LIMITS_DDL = """
CREATE TABLE city_imbalance_limits (
    company_id INTEGER NOT NULL REFERENCES companies(id),
    city_id INTEGER NOT NULL REFERENCES cities(id),
    resource TEXT NOT NULL,
    percent REAL NOT NULL CHECK (percent BETWEEN 0 AND 100),
    updated_by INTEGER REFERENCES users(id),
    updated_at TEXT NOT NULL,
    PRIMARY KEY (company_id, city_id, resource)
);
CREATE TABLE building_imbalance_limits (
    building_id INTEGER NOT NULL REFERENCES buildings(id),
    resource TEXT NOT NULL,
    percent REAL NOT NULL CHECK (percent BETWEEN 0 AND 100),
    updated_by INTEGER REFERENCES users(id),
    updated_at TEXT NOT NULL,
    PRIMARY KEY (building_id, resource)
);
"""
# 4.6.13: e-mail subscriptions to events (comma-separated values, at least one of each), and
# which event each subscription has already been sent
EVENT_SUBSCRIPTIONS_DDL = """
CREATE TABLE event_subscriptions (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    meter_roles TEXT NOT NULL,
    effects TEXT NOT NULL,
    severities TEXT NOT NULL,
    email TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE event_notifications (
    subscription_id INTEGER NOT NULL REFERENCES event_subscriptions(id) ON DELETE CASCADE,
    event_key TEXT NOT NULL,
    sent_at TEXT NOT NULL,
    PRIMARY KEY (subscription_id, event_key)
);
"""
# 4.1.6: weather stations; a building's station is the nearest to its coordinates
WEATHER_STATIONS_DDL = """
CREATE TABLE weather_stations (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    latitude REAL NOT NULL,
    longitude REAL NOT NULL
);
"""
SETTINGS_DDL = (BALANCE_SIGN_DDL + BALANCE_GROUPS_DDL + DEVIATION_RULES_DDL + TEMPERATURE_SCHEDULE_DDL
                + HEATING_SEASON_DDL + IMBALANCE_LIMITS_DDL + EVENT_SUBSCRIPTIONS_DDL + WEATHER_STATIONS_DDL)

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
    # cities, communicators, residents and activation codes, edge sites; building coordinates and
    # construction flag; meter barcode and verification dates (cloud/services/cities.py,
    # communicators.py, residents.py, sites.py, buildings.py). Triggers keep the older insert
    # paths (cloud/seed.py) consistent: a new building gets its city and its edge site rows.
    (3, """
CREATE TABLE cities (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, time_zone TEXT NOT NULL);
CREATE TABLE company_cities (
    company_id INTEGER NOT NULL REFERENCES companies(id),
    city_id INTEGER NOT NULL REFERENCES cities(id),
    PRIMARY KEY (company_id, city_id)
);
ALTER TABLE buildings ADD COLUMN city_id INTEGER REFERENCES cities(id);
ALTER TABLE buildings ADD COLUMN latitude REAL;
ALTER TABLE buildings ADD COLUMN longitude REAL;
ALTER TABLE buildings ADD COLUMN construction_unfinished INTEGER NOT NULL DEFAULT 0;
INSERT OR IGNORE INTO cities (name, time_zone) SELECT city, MIN(time_zone) FROM buildings GROUP BY city;
INSERT OR IGNORE INTO cities (name, time_zone) SELECT city, 'Europe/Moscow' FROM companies;
UPDATE buildings SET city_id = (SELECT c.id FROM cities c WHERE c.name = buildings.city);
INSERT OR IGNORE INTO company_cities SELECT co.id, c.id FROM companies co JOIN cities c ON c.name = co.city;
INSERT OR IGNORE INTO company_cities SELECT DISTINCT company_id, city_id FROM buildings;
CREATE TRIGGER buildings_city AFTER INSERT ON buildings WHEN NEW.city_id IS NULL BEGIN
    INSERT OR IGNORE INTO cities (name, time_zone) VALUES (NEW.city, NEW.time_zone);
    UPDATE buildings SET city_id = (SELECT id FROM cities WHERE name = NEW.city) WHERE id = NEW.id;
    INSERT OR IGNORE INTO company_cities SELECT NEW.company_id, id FROM cities WHERE name = NEW.city;
END;
CREATE TRIGGER companies_city AFTER INSERT ON companies BEGIN
    INSERT OR IGNORE INTO cities (name, time_zone) VALUES (NEW.city, 'Europe/Moscow');
    INSERT OR IGNORE INTO company_cities SELECT NEW.id, id FROM cities WHERE name = NEW.city;
END;

CREATE TABLE communicators (
    id INTEGER PRIMARY KEY,
    company_id INTEGER NOT NULL REFERENCES companies(id),
    kind TEXT NOT NULL CHECK (kind IN ('tcp', 'gprs', 'lora')),
    placement TEXT NOT NULL CHECK (placement IN ('builtin', 'external')),
    serial TEXT NOT NULL DEFAULT '',
    host TEXT,
    port INTEGER CHECK (port BETWEEN 1 AND 65535),
    imei TEXT,
    iccid TEXT,
    phone TEXT,
    dev_eui TEXT UNIQUE,
    lora_class TEXT CHECK (lora_class IN ('A', 'B', 'C')),
    lorawan_version TEXT,
    CHECK (kind != 'tcp' OR (host IS NOT NULL AND port IS NOT NULL)),
    CHECK (kind != 'gprs' OR imei IS NOT NULL),
    CHECK (kind != 'lora' OR (dev_eui IS NOT NULL AND lora_class IS NOT NULL AND lorawan_version IS NOT NULL))
);
CREATE INDEX communicators_company ON communicators(company_id);
ALTER TABLE meters ADD COLUMN communicator_id INTEGER REFERENCES communicators(id);
ALTER TABLE meters ADD COLUMN barcode TEXT NOT NULL DEFAULT '';
ALTER TABLE meters ADD COLUMN verified_on TEXT;
ALTER TABLE meters ADD COLUMN next_verification_on TEXT;
CREATE INDEX meters_communicator ON meters(communicator_id);

CREATE TABLE residents (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    full_name TEXT NOT NULL,
    phone TEXT NOT NULL DEFAULT '',
    password_hash TEXT,
    created_at TEXT NOT NULL,
    registered_at TEXT
);
CREATE TABLE premise_residents (
    premise_id INTEGER NOT NULL REFERENCES premises(id),
    resident_id INTEGER NOT NULL REFERENCES residents(id),
    added_at TEXT NOT NULL,
    PRIMARY KEY (premise_id, resident_id)
);
CREATE TABLE activation_codes (
    id INTEGER PRIMARY KEY,
    premise_id INTEGER NOT NULL REFERENCES premises(id),
    code TEXT NOT NULL UNIQUE,
    created_by INTEGER REFERENCES users(id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT,
    resident_id INTEGER REFERENCES residents(id)
);
CREATE INDEX activation_codes_premise ON activation_codes(premise_id);

CREATE TABLE edge_sites (
    id INTEGER PRIMARY KEY,
    company_id INTEGER NOT NULL REFERENCES companies(id),
    site TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL
);
INSERT OR IGNORE INTO edge_sites (company_id, site, name, created_at)
    SELECT MIN(company_id), site, site, strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now') FROM buildings GROUP BY site;
CREATE TRIGGER buildings_site AFTER INSERT ON buildings BEGIN
    INSERT OR IGNORE INTO edge_sites (company_id, site, name, created_at)
    VALUES (NEW.company_id, NEW.site, NEW.site, strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now'));
END;
"""),
    # commands to the edge and their life cycle (cloud/services/commands.py); meter_id is the
    # meter a command concerns (NULL for a site-wide one such as meter_config)
    (4, """
CREATE TABLE commands (
    id TEXT PRIMARY KEY,
    company_id INTEGER NOT NULL REFERENCES companies(id),
    site TEXT NOT NULL,
    meter_id INTEGER REFERENCES meters(id),
    type TEXT NOT NULL,
    args TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('created', 'sent', 'acknowledged', 'done', 'failed', 'timed_out')),
    created_by INTEGER REFERENCES users(id),
    created_at TEXT NOT NULL,
    sent_at TEXT,
    acknowledged_at TEXT,
    finished_at TEXT,
    expires_at TEXT NOT NULL,
    result TEXT
);
CREATE INDEX commands_company_created ON commands(company_id, created_at);
CREATE INDEX commands_meter_created ON commands(meter_id, created_at);
CREATE INDEX commands_state_expires ON commands(state, expires_at);
"""),
    # the meter lifecycle as dated periods (DESIGN.md section 5; cloud/services/meters_admin.py):
    # commissioned_at is the start of the first hourly period the meter is expected to report,
    # decommissioned_at the first period it no longer is (ISO 8601 with a UTC offset; NULL: unknown
    # or legacy, "since its first archive", resp. still in service); a replacement links the new
    # meter to the old one, whose row and history stay. Readings at those instants are JSON objects
    # "channel:parameter" -> counter reading in domain units. ``status`` stays as a cache the
    # services rewrite from the dates at every change; rows already 'decommissioned' keep that
    # status with decommissioned_at NULL: their date was never recorded and is not invented here.
    (5, """
ALTER TABLE meters ADD COLUMN installed_on TEXT;
ALTER TABLE meters ADD COLUMN commissioned_at TEXT;
ALTER TABLE meters ADD COLUMN decommissioned_at TEXT;
ALTER TABLE meters ADD COLUMN reporting_day INTEGER NOT NULL DEFAULT 1 CHECK (reporting_day BETWEEN 1 AND 28);
ALTER TABLE meters ADD COLUMN ct_ratio REAL NOT NULL DEFAULT 1 CHECK (ct_ratio > 0);
ALTER TABLE meters ADD COLUMN phase TEXT CHECK (phase IN ('A', 'B', 'C'));
ALTER TABLE meters ADD COLUMN tariffs INTEGER NOT NULL DEFAULT 0;
ALTER TABLE meters ADD COLUMN replaces_meter_id INTEGER REFERENCES meters(id);
ALTER TABLE meters ADD COLUMN initial_readings TEXT NOT NULL DEFAULT '{}';
ALTER TABLE meters ADD COLUMN final_readings TEXT NOT NULL DEFAULT '{}';
ALTER TABLE meter_channels ADD COLUMN tariff TEXT;
CREATE INDEX meters_replaces ON meters(replaces_meter_id);
"""),
    # hardening (docs/security.md): integration accounts (an API token's owner that never logs in
    # with a password; an administrator mints tokens only for them and for themself); the audit
    # names the API token a call came with; failed logins per account and per client address
    # (cloud/services/login_guard.py), kept across restarts
    (6, """
ALTER TABLE users ADD COLUMN integration INTEGER NOT NULL DEFAULT 0;
ALTER TABLE audit_log ADD COLUMN via TEXT;
CREATE TABLE login_failures (
    kind TEXT NOT NULL CHECK (kind IN ('login', 'address')),
    subject TEXT NOT NULL,
    failures INTEGER NOT NULL,
    last_at TEXT NOT NULL,
    PRIMARY KEY (kind, subject)
);
"""),
    # the settings of sections "Учёт" and "Мониторинг" (manual 4.5.7, 4.6.5-4.6.8, 4.6.10, 4.6.13),
    # one block per setting; each block's service names it in its docstring
    (7, SETTINGS_DDL),
    # section «Сервис» and the settings built with it (manual 4.5, 4.6.1-4.6.4, 4.6.9, 4.6.11,
    # 4.6.12, 4.6.14, 4.6.15): one block per screen group in cloud/storage/registry_ddl/
    (8, SERVICE_DDL),
    # sections «Отчёты» and «Биллинг» (manual 4.3, 4.4): meters' numbers in ГИС ЖКХ, billing centres,
    # their export runs and what each run sent (cloud/billing/)
    (9, BILLING_DDL),
    # the residents' app (manual 3.6): residents' own sessions and their last sign-in (4.6.4); users working
    # in several companies and the company of their working mode (3.4)
    (10, RESIDENTS_DDL),
)


class Registry:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._readers = threading.local()  # each thread's read-only connection (``reading``)
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
        """A connection in a write transaction: committed on success, rolled back on error.

        It begins IMMEDIATE: it takes the write lock first (waiting up to 10 s for another writer).
        A deferred transaction that read first and wrote later failed at once with "database is
        locked" whenever another connection had committed in between (WAL cannot move a read
        snapshot forward), which is how a service checks a row and then changes it."""
        with self._transaction("BEGIN IMMEDIATE") as db:
            yield db

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """A connection in a read-only transaction: one consistent snapshot, no write lock, so
        reads run beside each other and beside a writer. Each thread keeps its read-only
        connection: opening one (and parsing the schema) cost more than most reads. A read inside
        a read of the same thread shares its snapshot."""
        db = getattr(self._readers, "db", None)
        if db is None:
            db = self._readers.db = self._open()
            db.execute("PRAGMA query_only=ON")
        if db.in_transaction:
            yield db
            return
        db.execute("BEGIN")
        try:
            yield db
        finally:
            if db.in_transaction:
                db.execute("COMMIT")  # nothing to write: it ends the snapshot

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("PRAGMA synchronous=FULL")
        return db

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[sqlite3.Connection]:
        db = self._open()
        try:
            db.execute(begin)
            yield db
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    def one(self, sql: str, *args: object) -> sqlite3.Row | None:
        with self.reading() as db:
            return db.execute(sql, args).fetchone()

    def all(self, sql: str, *args: object) -> list[sqlite3.Row]:
        with self.reading() as db:
            return db.execute(sql, args).fetchall()

    def write(self, sql: str, *args: object) -> list[sqlite3.Row]:
        """One statement in its own write transaction; the rows it returns (``RETURNING``)."""
        with self.connect() as db:
            return db.execute(sql, args).fetchall()

    def company_by_site(self) -> dict[str, int]:
        """Site -> the company it belongs to: the ingest keys every stored series by it."""
        return {row["site"]: row["company_id"] for row in self.all("SELECT site, company_id FROM edge_sites")}

    def meter_serials_by_site(self) -> dict[str, set[str]]:
        """Site -> serials of the meters registered for its buildings: the ingest's meter lookup."""
        out: dict[str, set[str]] = {}
        for row in self.all("SELECT b.site, m.serial FROM meters m JOIN buildings b ON b.id = m.building_id"):
            out.setdefault(row["site"], set()).add(row["serial"])
        return out
