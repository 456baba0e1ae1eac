"""Registry tables: the company card and a user's working mode (manual 4.6.15, 3.4)."""

DDL = """
"""
