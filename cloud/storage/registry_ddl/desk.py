"""Registry tables: dispatch desk tickets and their stages, notices to residents (manual 4.5.9, 4.5.10)."""

DDL = """
"""
