"""Registry tables: service procedures and their operations, meter out-of-service
intervals, operation deadlines (manual 4.5.5, 4.6.12). Written by cloud/services/procedures.py only.

``procedure_steps`` is one row per operation run (state active -> done | failed | cancelled |
forced; a failed automatic one may run again), ``procedure_log`` every action on a procedure
with its time, user and notes, ``meter_outages`` the intervals [from_at, until_at) a meter is
out of service (until_at NULL: still out), ``operation_deadlines`` a company's own planned
durations (missing: the default of cloud/services/procedure_rules.py)."""

DDL = """
CREATE TABLE procedures (
    id INTEGER PRIMARY KEY,
    company_id INTEGER NOT NULL REFERENCES companies(id),
    meter_id INTEGER NOT NULL REFERENCES meters(id),
    kind TEXT NOT NULL CHECK (kind IN ('install', 'verification', 'repair', 'decommissioning', 'correction',
                                       'reconciliation')),
    state TEXT NOT NULL CHECK (state IN ('active', 'completed', 'cancelled')),
    started_by INTEGER REFERENCES users(id),
    started_at TEXT NOT NULL,
    finished_by INTEGER REFERENCES users(id),
    finished_at TEXT,
    settings TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX procedures_meter ON procedures(meter_id, started_at);
CREATE UNIQUE INDEX procedures_one_active ON procedures(meter_id) WHERE state = 'active';
CREATE TABLE procedure_steps (
    id INTEGER PRIMARY KEY,
    procedure_id INTEGER NOT NULL REFERENCES procedures(id),
    operation TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('active', 'done', 'failed', 'cancelled', 'forced')),
    started_at TEXT NOT NULL,
    planned_at TEXT NOT NULL,
    done_on TEXT,
    finished_at TEXT,
    finished_by INTEGER REFERENCES users(id),
    notes TEXT NOT NULL DEFAULT '',
    settings TEXT NOT NULL DEFAULT '{}',
    command_id TEXT REFERENCES commands(id)
);
CREATE INDEX procedure_steps_procedure ON procedure_steps(procedure_id, id);
CREATE INDEX procedure_steps_active ON procedure_steps(state, planned_at);
CREATE INDEX procedure_steps_command ON procedure_steps(command_id);
CREATE TABLE procedure_log (
    id INTEGER PRIMARY KEY,
    procedure_id INTEGER NOT NULL REFERENCES procedures(id),
    step_id INTEGER REFERENCES procedure_steps(id),
    at TEXT NOT NULL,
    user_id INTEGER REFERENCES users(id),
    action TEXT NOT NULL,
    notes TEXT NOT NULL DEFAULT ''
);
CREATE INDEX procedure_log_procedure ON procedure_log(procedure_id, id);
CREATE TABLE meter_outages (
    id INTEGER PRIMARY KEY,
    meter_id INTEGER NOT NULL REFERENCES meters(id),
    procedure_id INTEGER REFERENCES procedures(id),
    from_at TEXT NOT NULL,
    until_at TEXT,
    CHECK (until_at IS NULL OR until_at >= from_at)
);
CREATE INDEX meter_outages_meter ON meter_outages(meter_id, from_at);
CREATE TABLE operation_deadlines (
    company_id INTEGER NOT NULL REFERENCES companies(id),
    procedure TEXT NOT NULL,
    operation TEXT NOT NULL,
    days INTEGER NOT NULL CHECK (days BETWEEN 1 AND 365),
    updated_by INTEGER REFERENCES users(id),
    updated_at TEXT NOT NULL,
    PRIMARY KEY (company_id, procedure, operation)
);
"""
