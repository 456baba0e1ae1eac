"""Registry tables of the automatic export to billing centres (manual 4.4.2; cloud/billing/service.py).

billing_centres: a company's billing centres (РИЦ) with the connector's address and token and the
submission day; billing_centre_buildings: the buildings whose apartment meters it is sent (the data
operator's link); billing_runs: one export protocol each (state, status, attempts, the reason of a
failure, the figures of the summary as JSON); billing_run_items: the protocol's lists («Аккаунты»,
«Приборы», the readings sent with the centre's answer); billing_device_links: per centre and meter
resource the centre's device id of the last run, by which a first-time and a re-linked match are told.
"""

DDL = """
CREATE TABLE billing_centres (
    id INTEGER PRIMARY KEY,
    company_id INTEGER NOT NULL REFERENCES companies(id),
    name TEXT NOT NULL,
    connector TEXT NOT NULL DEFAULT 'http-json',
    url TEXT NOT NULL,
    token TEXT NOT NULL DEFAULT '',
    submission_day INTEGER NOT NULL CHECK (submission_day BETWEEN 1 AND 28),
    enabled INTEGER NOT NULL DEFAULT 1,
    UNIQUE (company_id, name)
);
CREATE TABLE billing_centre_buildings (
    centre_id INTEGER NOT NULL REFERENCES billing_centres(id) ON DELETE CASCADE,
    building_id INTEGER NOT NULL REFERENCES buildings(id) ON DELETE CASCADE,
    PRIMARY KEY (centre_id, building_id)
);
CREATE TABLE billing_runs (
    id INTEGER PRIMARY KEY,
    centre_id INTEGER NOT NULL REFERENCES billing_centres(id) ON DELETE CASCADE,
    company_id INTEGER NOT NULL REFERENCES companies(id),
    period TEXT NOT NULL,
    trigger TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('waiting', 'running', 'finished')),
    status TEXT CHECK (status IN ('success', 'errors', 'failed')),
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    reason TEXT NOT NULL DEFAULT '',
    summary TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX billing_runs_centre ON billing_runs(centre_id, period);
CREATE INDEX billing_runs_company ON billing_runs(company_id, id);
CREATE TABLE billing_run_items (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES billing_runs(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('account', 'device', 'reading')),
    address TEXT NOT NULL DEFAULT '',
    premise TEXT NOT NULL DEFAULT '',
    account TEXT NOT NULL DEFAULT '',
    meter_id INTEGER,
    serial TEXT NOT NULL DEFAULT '',
    resource TEXT NOT NULL DEFAULT '',
    device_id TEXT NOT NULL DEFAULT '',
    code TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL DEFAULT '',
    idempotency_key TEXT NOT NULL DEFAULT '',
    payload TEXT NOT NULL DEFAULT '{}',
    answer TEXT NOT NULL DEFAULT ''
);
CREATE INDEX billing_run_items_run ON billing_run_items(run_id, kind);
CREATE TABLE billing_device_links (
    centre_id INTEGER NOT NULL REFERENCES billing_centres(id) ON DELETE CASCADE,
    meter_id INTEGER NOT NULL REFERENCES meters(id) ON DELETE CASCADE,
    resource TEXT NOT NULL,
    device_id TEXT NOT NULL,
    PRIMARY KEY (centre_id, meter_id, resource)
);
"""
