"""Registry tables: power limitations of premises and relay thresholds (manual 4.5.8, 4.6.11).

A limitation row keeps what the dispatcher asked for and the relay commands that carry it out
(``commands`` rows): its state is read from those commands' states, never stored twice
(cloud/services/power_rules.py). Thresholds are whole watts: a city's default per company, a
building's own value overriding it.
"""

DDL = """
CREATE TABLE power_limitations (
    id INTEGER PRIMARY KEY,
    company_id INTEGER NOT NULL REFERENCES companies(id),
    premise_id INTEGER NOT NULL REFERENCES premises(id),
    meter_id INTEGER NOT NULL REFERENCES meters(id),
    reason TEXT NOT NULL CHECK (reason IN ('debt', 'repairs')),
    debt_amount REAL CHECK (debt_amount IS NULL OR debt_amount > 0),
    repairs_from TEXT,
    notify INTEGER NOT NULL DEFAULT 0,
    notify_on TEXT,
    control_on TEXT,
    threshold_w INTEGER NOT NULL CHECK (threshold_w > 0),
    threshold_source TEXT NOT NULL CHECK (threshold_source IN ('building', 'city')),
    limit_command_id TEXT NOT NULL REFERENCES commands(id),
    lift_command_id TEXT REFERENCES commands(id),
    created_by INTEGER REFERENCES users(id),
    created_at TEXT NOT NULL,
    lifted_by INTEGER REFERENCES users(id),
    lifted_at TEXT,
    CHECK ((reason = 'debt' AND debt_amount IS NOT NULL AND repairs_from IS NULL)
           OR (reason = 'repairs' AND repairs_from IS NOT NULL AND debt_amount IS NULL)),
    CHECK (notify = 0 OR (notify_on IS NOT NULL AND control_on IS NOT NULL AND notify_on <= control_on))
);
CREATE INDEX power_limitations_premise ON power_limitations(premise_id, id);
CREATE INDEX power_limitations_company ON power_limitations(company_id, id);
CREATE TABLE city_relay_thresholds (
    company_id INTEGER NOT NULL REFERENCES companies(id),
    city_id INTEGER NOT NULL REFERENCES cities(id),
    threshold_w INTEGER NOT NULL CHECK (threshold_w > 0),
    updated_by INTEGER REFERENCES users(id),
    updated_at TEXT NOT NULL,
    PRIMARY KEY (company_id, city_id)
);
CREATE TABLE building_relay_thresholds (
    building_id INTEGER PRIMARY KEY REFERENCES buildings(id),
    threshold_w INTEGER NOT NULL CHECK (threshold_w > 0),
    updated_by INTEGER REFERENCES users(id),
    updated_at TEXT NOT NULL
);
"""
