"""Registry tables: service procedures and their operations, meter out-of-service
intervals, operation deadlines (manual 4.5.5, 4.6.12)."""

DDL = """
"""
