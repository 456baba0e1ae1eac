"""Registry tables: owner invitations and personal accounts (manual 4.6.1-4.6.4, 4.6.9)."""

DDL = """
"""
