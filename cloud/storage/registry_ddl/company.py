"""Registry tables: the company card and a user's working mode (manual 4.6.15, 3.4), and a user's
contacts in the users list (4.6.14)."""

DDL = """
CREATE TABLE company_cards (
    company_id INTEGER PRIMARY KEY REFERENCES companies(id),
    legal_name TEXT NOT NULL DEFAULT '',
    inn TEXT NOT NULL DEFAULT '',
    kpp TEXT NOT NULL DEFAULT '',
    ogrn TEXT NOT NULL DEFAULT '',
    director TEXT NOT NULL DEFAULT '',
    address TEXT NOT NULL DEFAULT '',
    hours TEXT NOT NULL DEFAULT '',
    phone TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL DEFAULT '',
    full_access_requested_at TEXT
);
CREATE TABLE user_working_modes (
    user_id INTEGER PRIMARY KEY REFERENCES users(id),
    city_id INTEGER NOT NULL REFERENCES cities(id)
);
ALTER TABLE users ADD COLUMN email TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN phone TEXT NOT NULL DEFAULT '';
"""
