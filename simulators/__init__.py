"""KARAT device simulators: the simulated world (clock, weather, consumption physics), the
devices on their real transports (Modbus TCP and RTU on a pseudo-terminal line via pymodbus,
LoRaWAN via a ChirpStack-style MQTT feed with downlinks), faults on a schedule, and a runner
for scenario files. Imports protocol/ only. Tests: tests/unit/simulators/, tests/integration/test_sim_*.
"""
