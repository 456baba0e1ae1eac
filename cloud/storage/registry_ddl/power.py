"""Registry tables: power limitations of premises and relay thresholds (manual 4.5.8, 4.6.11)."""

DDL = """
"""
