"""Storage behind the service layer: ClickHouse for series, SQLite for the registry.
Only cloud/ingest and cloud/services use it; ui/ never does."""
