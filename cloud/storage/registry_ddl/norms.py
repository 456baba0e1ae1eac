"""Registry tables: consumption norms (нормативы потребления) of the building balance report (manual 4.3.3).

A norm is a company's per resource, a building's own value overriding it. Heat is Gcal per m² of area
per month, every other resource an amount per resident per month (m³ or kWh): the basis is the
resource's, never stored (cloud/services/norms.py ``BASIS``). One row per (company, resource) with
``building_id`` NULL and one per (building, resource); clearing a norm deletes its row.
"""

DDL = """
CREATE TABLE consumption_norms (
    id INTEGER PRIMARY KEY,
    company_id INTEGER NOT NULL REFERENCES companies(id),
    building_id INTEGER REFERENCES buildings(id),
    resource TEXT NOT NULL CHECK (resource IN ('heat', 'hot_water', 'cold_water', 'gas', 'electricity', 'sewage')),
    value REAL NOT NULL CHECK (value > 0),
    updated_by INTEGER REFERENCES users(id),
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX consumption_norms_company ON consumption_norms(company_id, resource) WHERE building_id IS NULL;
CREATE UNIQUE INDEX consumption_norms_building ON consumption_norms(building_id, resource)
    WHERE building_id IS NOT NULL;
"""
