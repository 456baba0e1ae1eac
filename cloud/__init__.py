"""The cloud tier: ingest from JetStream into ClickHouse, the registry, and the domain
services the UI and the HTTP API go through. Imports protocol/ only (never edge/).
Tests: tests/integration/ and tests/unit/cloud/.
"""
