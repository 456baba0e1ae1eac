"""Acquisition drivers: the interface (base.py), the transports named in one table and loaded
on first need (registry.py), Modbus (modbus.py, modbus_tcp.py, modbus_link.py) and LoRaWAN
(lorawan.py, lorawan_mqtt.py, lorawan_gaps.py). No discovery; see docs/edge.md."""
