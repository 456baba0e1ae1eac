"""Registry tables: sensors of a metering point and their verification dates, measuring channels (ИИК)
and their binding to the meter and its sensors (manual 4.5.1, 4.5.3, 4.5.4). Written by
cloud/services/service_meters.py only; the rules are cloud/services/service_meters_rules.py.

``meter_sensors``: the primary sensors connected to a meter (kinds as the wizard's kit parts), each
with its passport (model, serial) and verification dates. ``measuring_channels``: one ИИК of a
meter, named by resource, resource number (the n-th device channel of that resource) and the
parameter it gives; ``meter_quantity`` is what the meter itself measures in it (NULL: the meter is
not one of its instruments). ``measuring_channel_sensors``: the sensors of a channel and the
quantity each registers in it; a sensor may be in several channels (manual 4.5.3).
"""

DDL = """
CREATE TABLE meter_sensors (
    id INTEGER PRIMARY KEY,
    meter_id INTEGER NOT NULL REFERENCES meters(id),
    kind TEXT NOT NULL CHECK (kind IN ('flow_transducer', 'temperature_sensor', 'water_meter', 'pulse_meter')),
    model TEXT NOT NULL DEFAULT '',
    serial TEXT NOT NULL,
    verified_on TEXT,
    next_verification_on TEXT,
    created_by INTEGER REFERENCES users(id),
    created_at TEXT NOT NULL,
    UNIQUE (meter_id, serial),
    CHECK (verified_on IS NULL OR next_verification_on IS NULL OR next_verification_on > verified_on)
);
CREATE INDEX meter_sensors_next_verification ON meter_sensors(next_verification_on);
CREATE TABLE measuring_channels (
    id INTEGER PRIMARY KEY,
    meter_id INTEGER NOT NULL REFERENCES meters(id),
    resource TEXT NOT NULL,
    resource_number INTEGER NOT NULL CHECK (resource_number BETWEEN 1 AND 16),
    parameter TEXT NOT NULL,
    meter_quantity TEXT,
    updated_by INTEGER REFERENCES users(id),
    updated_at TEXT NOT NULL,
    UNIQUE (meter_id, resource, resource_number, parameter)
);
CREATE TABLE measuring_channel_sensors (
    channel_id INTEGER NOT NULL REFERENCES measuring_channels(id) ON DELETE CASCADE,
    sensor_id INTEGER NOT NULL REFERENCES meter_sensors(id),
    quantity TEXT NOT NULL,
    PRIMARY KEY (channel_id, sensor_id),
    UNIQUE (channel_id, quantity)
);
CREATE INDEX measuring_channel_sensors_sensor ON measuring_channel_sensors(sensor_id);
CREATE INDEX meters_next_verification ON meters(company_id, next_verification_on);
"""
