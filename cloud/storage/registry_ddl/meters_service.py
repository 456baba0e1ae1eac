"""Registry tables: sensors of a metering point and their verification dates,
measuring channel bindings (manual 4.5.1, 4.5.3, 4.5.4)."""

DDL = """
"""
