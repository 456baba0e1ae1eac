"""Registry tables of the working mode's company (manual 3.4: "если Вы работаете в нескольких
обслуживающих компаниях"): a user of one company may also work in others, each with a role and reader
status of that company's choosing, and picks the company to work in from the profile.

``company_members`` are the other companies a user works in (their own company stays ``users.company_id``);
``user_working_modes.company_id`` is the one chosen (NULL: their own). ``company_staff`` lists everyone
who works in a company, its own users and its members, with the role they have there."""

DDL = """
CREATE TABLE company_members (
    user_id INTEGER NOT NULL REFERENCES users(id),
    company_id INTEGER NOT NULL REFERENCES companies(id),
    role TEXT NOT NULL CHECK (role IN ('administrator', 'dispatcher', 'engineer')),
    reader INTEGER NOT NULL DEFAULT 0,
    added_by INTEGER REFERENCES users(id),
    added_at TEXT NOT NULL,
    PRIMARY KEY (user_id, company_id)
);
CREATE INDEX company_members_company ON company_members(company_id);
ALTER TABLE user_working_modes ADD COLUMN company_id INTEGER REFERENCES companies(id);
CREATE VIEW company_staff AS
    SELECT id AS user_id, company_id, role, reader FROM users
    UNION ALL SELECT user_id, company_id, role, reader FROM company_members;
"""
