"""Registry tables: meter documents (passports, certificates) stored as files with checksums (manual 4.5.2)."""

DDL = """
"""
