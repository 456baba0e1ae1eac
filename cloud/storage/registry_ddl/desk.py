"""Registry tables: dispatch desk tickets and their stages, notices to residents (manual 4.5.9, 4.5.10).

A ticket row keeps its current stage and fields; ``desk_ticket_log`` keeps every step (registration,
stage moves, assignment, edits, comments, cancellation, grouping) with time, actor and note, so the
stage history and each stage's time are read from it (cloud/services/desk.py). The allowed values
are cloud/services/desk_rules.py's. A notice is addressed to buildings (``notice_buildings``);
``published_at`` set means published now, ``first_published_at`` that residents have seen it once.
"""

DDL = """
CREATE TABLE desk_tickets (
    id INTEGER PRIMARY KEY,
    company_id INTEGER NOT NULL REFERENCES companies(id),
    building_id INTEGER NOT NULL REFERENCES buildings(id),
    premise_id INTEGER REFERENCES premises(id),
    source TEXT NOT NULL CHECK (source IN ('resident', 'engineer', 'dispatcher')),
    sphere TEXT CHECK (sphere IS NULL OR sphere IN ('heating', 'hot_water', 'cold_water', 'sewerage',
                                                    'electricity', 'gas', 'metering', 'other')),
    category TEXT CHECK (category IS NULL OR category IN ('azo', 'ppr', 'off_journal')),
    description TEXT NOT NULL,
    applicant_name TEXT NOT NULL,
    applicant_phone TEXT NOT NULL DEFAULT '',
    author_user_id INTEGER REFERENCES users(id),
    author_resident_id INTEGER REFERENCES residents(id),
    assignee_id INTEGER REFERENCES users(id),
    stage TEXT NOT NULL CHECK (stage IN ('registration', 'qualification', 'execution', 'completion')),
    parent_id INTEGER REFERENCES desk_tickets(id),
    created_at TEXT NOT NULL,
    stage_at TEXT NOT NULL,
    cancelled_at TEXT,
    cancelled_by INTEGER REFERENCES users(id),
    CHECK ((author_user_id IS NULL) != (author_resident_id IS NULL)),
    CHECK (parent_id IS NULL OR parent_id != id)
);
CREATE INDEX desk_tickets_company ON desk_tickets(company_id, id);
CREATE INDEX desk_tickets_parent ON desk_tickets(parent_id);
CREATE INDEX desk_tickets_resident ON desk_tickets(author_resident_id);
CREATE TABLE desk_ticket_log (
    id INTEGER PRIMARY KEY,
    ticket_id INTEGER NOT NULL REFERENCES desk_tickets(id),
    at TEXT NOT NULL,
    user_id INTEGER REFERENCES users(id),
    resident_id INTEGER REFERENCES residents(id),
    action TEXT NOT NULL CHECK (action IN ('register', 'move', 'assign', 'edit', 'comment', 'cancel',
                                           'attach', 'detach')),
    from_stage TEXT,
    stage TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    details TEXT
);
CREATE INDEX desk_ticket_log_ticket ON desk_ticket_log(ticket_id, id);

CREATE TABLE notices (
    id INTEGER PRIMARY KEY,
    company_id INTEGER NOT NULL REFERENCES companies(id),
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    relevant_from TEXT NOT NULL,
    relevant_to TEXT,
    created_by INTEGER REFERENCES users(id),
    created_at TEXT NOT NULL,
    updated_by INTEGER REFERENCES users(id),
    updated_at TEXT,
    published_at TEXT,
    published_by INTEGER REFERENCES users(id),
    first_published_at TEXT,
    unpublished_at TEXT,
    unpublished_by INTEGER REFERENCES users(id),
    CHECK (relevant_to IS NULL OR relevant_to >= relevant_from)
);
CREATE INDEX notices_company ON notices(company_id, id);
CREATE TABLE notice_buildings (
    notice_id INTEGER NOT NULL REFERENCES notices(id) ON DELETE CASCADE,
    building_id INTEGER NOT NULL REFERENCES buildings(id),
    PRIMARY KEY (notice_id, building_id)
);
CREATE INDEX notice_buildings_building ON notice_buildings(building_id);
"""
