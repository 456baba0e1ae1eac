"""Registry tables of settings «Объекты», «Помещения», «Собственники» (manual 4.6.1-4.6.4, 4.6.9):
a building's type and ФИАС code (shown on its info page, 4.6.2), and the owner invitations sent by
e-mail with the premise's activation code (cloud/services/objects.py). Personal accounts are the
``premises.account`` column of migration 1.
"""

DDL = """
ALTER TABLE buildings ADD COLUMN building_kind TEXT NOT NULL DEFAULT 'apartment_block'
    CHECK (building_kind IN ('apartment_block', 'house', 'nonresidential'));
ALTER TABLE buildings ADD COLUMN fias_code TEXT NOT NULL DEFAULT '';
CREATE TABLE owner_invitations (
    id INTEGER PRIMARY KEY,
    premise_id INTEGER NOT NULL REFERENCES premises(id),
    resident_id INTEGER NOT NULL REFERENCES residents(id),
    email TEXT NOT NULL,
    code_id INTEGER NOT NULL REFERENCES activation_codes(id),
    created_by INTEGER REFERENCES users(id),
    created_at TEXT NOT NULL,
    sent_at TEXT,
    error TEXT
);
CREATE INDEX owner_invitations_premise ON owner_invitations(premise_id);
"""
