"""The edge agent: drivers that read meters (Modbus TCP, LoRaWAN via a network server's MQTT
feed), a durable SQLite buffer, and store-and-forward sync to the cloud over JetStream.
Imports protocol/ only (never cloud/). Tests: tests/integration/test_pipeline.py.
"""
