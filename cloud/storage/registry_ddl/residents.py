"""Registry tables of the residents' app (manual 3.6, the КВ application): a resident's sessions, kept
apart from the staff's ``sessions`` so a resident's token can never act as a staff user, and the time
of their last sign-in that the owners page shows (4.6.4). Only the SHA-256 of a token is stored."""

DDL = """
CREATE TABLE resident_sessions (
    token_hash TEXT PRIMARY KEY,
    resident_id INTEGER NOT NULL REFERENCES residents(id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX resident_sessions_resident ON resident_sessions(resident_id);
ALTER TABLE residents ADD COLUMN last_login_at TEXT;
"""
