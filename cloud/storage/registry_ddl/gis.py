"""Registry columns of the billing document (manual 4.4.1): a meter's number in ГИС ЖКХ (the
«номер прибора учета в ГИС ЖКХ» the billing side assigns), '' while none is known. Unique within
the company when set (the partial index: many meters may have none); cloud/billing/gis_numbers.py
checks it first so that a person reads which meter holds the number already."""

DDL = """
ALTER TABLE meters ADD COLUMN gis_number TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX meters_gis_number ON meters(company_id, gis_number) WHERE gis_number <> '';
"""
