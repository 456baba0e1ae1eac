"""Acquisition drivers, registered explicitly by transport name (no discovery)."""
