"""KARAT device simulators: the simulated world (clock, weather, consumption physics), the
devices on their real transports (Modbus TCP and RTU on a pseudo-terminal line via pymodbus,
LoRaWAN via a ChirpStack-style MQTT feed with downlinks), faults on a schedule (meter replacement
included), and a runner for scenario files of one building or a fleet (simulators/fleet.py).
Imports protocol/ only. Tests: tests/unit/simulators/, tests/integration/test_sim_*.
"""
