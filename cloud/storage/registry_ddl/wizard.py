"""Registry tables of the add-meter wizard, the meter view and the communicators page (manual 4.5.2,
4.5.6): the kit composition and the options a meter's model needs beyond the meters table (the
calculator of a 929LW, single- or three-phase, the admin password when not the factory one), the
documents attached to a meter (stored as files next to the registry, their SHA-256 here), and a
communicator's building and name. Services: cloud/services/meter_wizard.py, documents.py, communicators.py."""

DDL = """
CREATE TABLE meter_kits (
    meter_id INTEGER PRIMARY KEY REFERENCES meters(id),
    calculator TEXT,
    phases INTEGER CHECK (phases IN (1, 3)),
    admin_password TEXT,
    created_by INTEGER REFERENCES users(id),
    created_at TEXT NOT NULL
);
CREATE TABLE meter_kit_parts (
    meter_id INTEGER NOT NULL REFERENCES meters(id),
    position INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('radio_module', 'flow_transducer', 'temperature_sensor', 'water_meter',
                                       'pulse_meter')),
    serial TEXT NOT NULL,
    channel INTEGER,
    model TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (meter_id, position)
);
CREATE TABLE meter_documents (
    id INTEGER PRIMARY KEY,
    company_id INTEGER NOT NULL REFERENCES companies(id),
    meter_id INTEGER NOT NULL REFERENCES meters(id),
    kind TEXT NOT NULL CHECK (kind IN ('meter_passport', 'commissioning_act', 'meter_certificate',
                                       'sensor_passport', 'sensor_certificate')),
    sensor TEXT NOT NULL DEFAULT '',
    original_name TEXT NOT NULL,
    stored_name TEXT NOT NULL UNIQUE,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL CHECK (size > 0),
    sha256 TEXT NOT NULL,
    uploaded_by INTEGER REFERENCES users(id),
    uploaded_at TEXT NOT NULL
);
CREATE INDEX meter_documents_meter ON meter_documents(meter_id);
ALTER TABLE communicators ADD COLUMN building_id INTEGER REFERENCES buildings(id);
ALTER TABLE communicators ADD COLUMN name TEXT NOT NULL DEFAULT '';
"""
