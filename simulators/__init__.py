"""KARAT device simulators: the simulated world (clock, weather, consumption physics), the
devices on their real transports (Modbus TCP via pymodbus, LoRaWAN via a ChirpStack-style
MQTT feed), and a runner for scenario files. Imports protocol/ only. Tests: tests/unit/simulators/.
"""
